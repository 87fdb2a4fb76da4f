// What `flotilla node add` and `node upgrade` share on the hub's side: the packed release of
// this Flotilla, waiting until a node reports with every instance healthy, and the messages
// for what can go wrong (an SSH problem, a server that cannot be set up, a bad release).
import path from 'node:path';
import { JoinFailed } from '../daemon/membership.ts';
import type { StatusReport } from '../hub/status-report.ts';
import { RUNNING_INSTALL_ROOT } from '../node/install-layout.ts';
import { NodeSetupFailed } from '../node/node-setup-error.ts';
import { packRelease, type PackedRelease } from '../node/release-pack.ts';
import { ReleaseError } from '../release/release-error.ts';
import { SshError } from '../ssh/ssh-error.ts';
import { HubRequestFailed, type HubClient } from './hub-client.ts';
import { writeLine, type Output } from './output.ts';

const HEALTHY_TIMEOUT_MS = 120_000;

/** This Flotilla, packed once per build; kept in the stack's state dir. */
export function packThisRelease(stateDir: string): Promise<PackedRelease> {
  return packRelease({
    root: RUNNING_INSTALL_ROOT,
    cacheDir: path.join(stateDir, 'hub', 'node-releases'),
  });
}

/** Waits until `node` reports and its instances are healthy; the reason when it does not. */
export async function waitForHealthyNode(
  client: HubClient,
  node: string,
  timeoutMs = HEALTHY_TIMEOUT_MS,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let why = `node ${node} has not reported`;
  while (Date.now() < deadline) {
    const report = await client.get<StatusReport>('/api/v1/status').catch(() => undefined);
    if (report?.nodes[node]?.up) {
      const waiting = report.instances.filter(
        (instance) => instance.node === node && !instance.healthy,
      );
      if (waiting.length === 0) return undefined;
      const failed = waiting.find((instance) => instance.state === 'failed');
      if (failed) return `${failed.id} failed: ${failed.reason ?? 'see flotilla logs'}`;
      why = `waiting for ${waiting.map((instance) => instance.id).join(', ')}`;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return why;
}

/** Prints a known failure as message and hint and returns 1; rethrows anything else. */
export function reportNodeFailure(verb: string, error: unknown, output: Output): number {
  const known =
    error instanceof SshError ||
    error instanceof NodeSetupFailed ||
    error instanceof ReleaseError ||
    error instanceof HubRequestFailed ||
    error instanceof JoinFailed;
  if (!known) throw error;
  writeLine(output.err, `flotilla node ${verb}: ${error.message}`);
  const hint = (error as { hint?: string }).hint;
  if (hint) writeLine(output.err, `hint: ${hint}`);
  return 1;
}
