// `flotilla node leave`, run on a node: removes what `down` leaves on purpose — the node's
// WireGuard interface (by its recorded wireguard-go PID, or the kernel link of that name) and
// its firewall table — after stopping its agent by its recorded PID. It refuses while the
// stack still runs here (a hub or a service process): `down` comes first. Idempotent.
import path from 'node:path';
import { deleteNftTable, nftTableExists } from '../agent/nftables.ts';
import { listInstanceRecords } from '../agent/process/instance-records.ts';
import { agentPaths, readMembership } from '../daemon/membership.ts';
import { readEndpoint } from '../hub/api-endpoint.ts';
import {
  bringDownInterface,
  interfaceRunning,
  linkExists,
  recordedInterfaces,
} from '../mesh/wireguard.ts';
import { meshInterfaceName } from '../plan/mesh-interface.ts';
import type { Stack } from '../spec/schema.ts';
import { isAlive, isRunning } from '../system/proc.ts';
import { runningAgentPid, stopAgent } from './agent-pid.ts';
import { FIREWALL_TABLE } from './left-running.ts';

/** The stack still runs on this node: leaving would cut its services off the mesh. */
export class StackStillUp extends Error {
  readonly hint = 'run `flotilla down` on the hub first, then `flotilla node leave` here';
}

export interface LeaveOptions {
  stateDir: string;
  /** Interface names the stack file gives this machine's nodes (a kernel link has no pid file). */
  interfaces?: readonly string[];
  /** Told what is being done, one line each. */
  log?: (line: string) => void;
}

/** What of the stack still runs on this node: its hub, its service processes. */
export async function runningHere(
  stateDir: string,
): Promise<{ hub: number | undefined; instances: { id: string; pid: number }[] }> {
  const endpoint = await readEndpoint(stateDir);
  const instances = listInstanceRecords(path.join(stateDir, 'agent', 'instances'))
    .filter((record) => isRunning(record.pid, record.startTime))
    .map(({ id, pid }) => ({ id, pid }));
  return { hub: endpoint && isAlive(endpoint.pid) ? endpoint.pid : undefined, instances };
}

/** Throws StackStillUp when this node's hub or any of its service processes still runs. */
async function refuseWhileUp(stateDir: string): Promise<void> {
  const { hub, instances } = await runningHere(stateDir);
  if (hub !== undefined) throw new StackStillUp(`the hub still runs on this node (pid ${hub})`);
  if (instances.length > 0)
    throw new StackStillUp(
      `the stack is still up on this node: ${instances.length} service instance${instances.length === 1 ? '' : 's'} running (${instances.map((instance) => instance.id).join(', ')})`,
    );
}

/** The WireGuard interface names the stack gives its nodes; none on a tailnet (Tailscale's own). */
export function stackInterfaceNames(stack: Stack): string[] {
  if (stack.mesh.provider === 'tailscale') return [];
  return Object.keys(stack.nodes).map((node) => meshInterfaceName(stack, node));
}

/**
 * The node's WireGuard interface names: its membership's, those with a recorded wireguard-go
 * PID in its mesh dir, and `extra` (from the stack file: a kernel link has no pid file).
 */
export async function meshInterfaceNames(
  stateDir: string,
  extra: readonly string[] = [],
): Promise<{ names: string[]; recorded: Set<string> }> {
  const paths = agentPaths(stateDir);
  const membership = await readMembership(paths).catch(() => undefined);
  const recorded = new Set(await recordedInterfaces(paths.meshDir));
  const names = new Set([
    ...(membership?.mesh ? [membership.mesh.interface] : []),
    ...recorded,
    ...extra,
  ]);
  return { names: [...names], recorded };
}

/** Removes this node's mesh interface(s) and firewall table; returns what it removed. */
export async function leaveNode(options: LeaveOptions): Promise<string[]> {
  const paths = agentPaths(options.stateDir);
  await refuseWhileUp(paths.stateDir);
  const removed: string[] = [];
  const agent = await runningAgentPid(paths.stateDir);
  if (agent !== undefined) {
    options.log?.(`stopping the agent (pid ${agent})`);
    await stopAgent(paths.stateDir, agent);
    removed.push(`agent (pid ${agent})`);
  }
  const { names, recorded } = await meshInterfaceNames(paths.stateDir, options.interfaces);
  for (const name of names) {
    const ref = { name, stateDir: paths.meshDir };
    const present = (await interfaceRunning(ref)) || (await linkExists(ref));
    // wireguard-go sockets share one dir across namespaces (the lab): touch only our own.
    if (!present && !recorded.has(name)) continue;
    // A stale pid file goes too, silently: nothing was running.
    await bringDownInterface(ref);
    if (present) removed.push(`mesh interface ${name}`);
  }
  const { family, name } = FIREWALL_TABLE;
  if (await nftTableExists(family, name)) {
    await deleteNftTable(family, name);
    removed.push(`firewall table ${family} ${name}`);
  }
  return removed;
}
