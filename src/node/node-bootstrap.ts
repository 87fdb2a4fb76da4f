// The SSH half of `flotilla node add` and `node upgrade`, run from the hub: check the server,
// upload the packed release unless it is already there, install the system packages, then
// run `flotilla node setup` from that release on the server, which does the rest there.
// Every step checks before it changes, so a second run changes nothing that is right.
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { RemoteShell } from '../ssh/remote-shell.ts';
import { formatBytes } from '../backup/events.ts';
import { COMPLETE_MARKER, releaseCommand, releaseDir } from './install-layout.ts';
import { NodeSetupFailed } from './node-setup-error.ts';
import type { PackedRelease } from './release-pack.ts';
import { probeServer } from './server-probe.ts';

const UPLOAD_TIMEOUT_MS = 10 * 60_000;
const PACKAGES_TIMEOUT_MS = 20 * 60_000;
const SETUP_TIMEOUT_MS = 3 * 60_000;

const nodeStateSchema = z.object({
  joined: z.object({ node: z.string(), stack: z.string() }).optional(),
  release: z.string().optional(),
  agentPid: z.number().optional(),
  init: z.enum(['systemd', 'none']),
});
const setupResultSchema = z.object({
  changed: z.array(z.string()),
  agentPid: z.number(),
  wireguard: z.enum(['kernel', 'wireguard-go']),
  init: z.enum(['systemd', 'none']),
});

export interface BootstrapOptions {
  shell: RemoteShell;
  release: PackedRelease;
  node: string;
  stack: string;
  /** The agent's --address, when peers reach the server elsewhere than the stack says. */
  address?: string;
  /** Asked only when the server has not joined yet; without it (an upgrade), it must have. */
  mintToken?: () => Promise<string>;
  log: (line: string) => void;
}

export interface BootstrapResult {
  os: string;
  changed: string[];
  wireguard: 'kernel' | 'wireguard-go';
  init: 'systemd' | 'none';
}

export async function bootstrapNode(options: BootstrapOptions): Promise<BootstrapResult> {
  const { shell, release, log } = options;
  const facts = await probeServer(shell, release.arch);
  const root = facts.asRoot;
  const changed: string[] = [];
  log(`${shell.target.host}: ${facts.os}, ${facts.machine}`);

  const dir = releaseDir(release.id);
  const present = await shell.run([...root, 'test', '-f', path.join(dir, COMPLETE_MARKER)]);
  if (present.code !== 0) {
    log(`uploading release ${release.id} (${formatBytes(release.bytes)})`);
    await uploadRelease(shell, root, release, dir);
    changed.push(`uploaded release ${release.id}`);
  }

  const packages = await shell.run(
    [...root, 'bash', path.join(dir, 'scripts', 'install-system-deps.sh'), '--node'],
    { timeoutMs: PACKAGES_TIMEOUT_MS },
  );
  const installed = /^flotilla: installing (.+)$/m.exec(packages.stderr)?.[1];
  if (packages.code !== 0)
    throw new NodeSetupFailed(
      `installing ${installed ?? 'the system packages'} on ${shell.target.host} failed: ${aptFailure(packages.stderr || packages.stdout)}`,
      `the server must reach its Debian mirrors (\`apt-get update\` there); or install ${installed === undefined ? 'them' : `them yourself (apt-get install ${installed})`}, then run this again`,
    );
  if (installed) changed.push(`installed ${installed}`);

  const cli = [...root, ...releaseCommand(dir), 'node', 'setup'];
  const state = nodeStateSchema.parse(
    parseJsonOutput(await shell.runOk([...cli, '--check', '--json']), 'node setup --check'),
  );
  if (state.joined && (state.joined.node !== options.node || state.joined.stack !== options.stack))
    throw new NodeSetupFailed(
      `${shell.target.host} already is node ${state.joined.node} of stack ${state.joined.stack}`,
      `on the server, \`flotilla node leave --state-dir /var/lib/flotilla/agent\` frees it (after \`flotilla node rm ${state.joined.node}\` on its hub)`,
    );
  if (!state.joined && !options.mintToken)
    throw new NodeSetupFailed(
      `${shell.target.host} has not joined stack ${options.stack}`,
      `add it first: flotilla node add ${shell.target.user}@${shell.target.host} --name ${options.node}`,
    );
  const token = state.joined ? undefined : await options.mintToken?.();
  const setupArgv = [...cli, '--node', options.node, '--json'];
  if (options.address !== undefined) setupArgv.push('--address', options.address);
  if (token !== undefined) setupArgv.push('--join-stdin');
  const setup = await shell.run(setupArgv, {
    timeoutMs: SETUP_TIMEOUT_MS,
    ...(token === undefined ? {} : { stdin: `${token}\n` }),
  });
  if (setup.code !== 0) {
    const [message, hint] = splitHint(setup.stderr);
    throw new NodeSetupFailed(
      `setting up ${options.node} on ${shell.target.host} failed: ${message}`,
      hint ?? `run \`flotilla node doctor\` on ${shell.target.host}`,
    );
  }
  const result = setupResultSchema.parse(parseJsonOutput(setup, 'node setup'));
  return {
    os: facts.os,
    changed: [...changed, ...result.changed],
    wireguard: result.wireguard,
    init: result.init,
  };
}

/** Unpacked beside its final name and renamed into place once whole, then marked complete. */
async function uploadRelease(
  shell: RemoteShell,
  root: string[],
  release: PackedRelease,
  dir: string,
): Promise<void> {
  const partial = `${dir}.partial`;
  await shell.runOk([...root, 'rm', '-rf', partial]);
  await shell.runOk([...root, 'mkdir', '-p', partial]);
  await shell.runOk([...root, 'tar', '-xzf', '-', '-C', partial, '--no-same-owner'], {
    stdin: createReadStream(release.file),
    timeoutMs: UPLOAD_TIMEOUT_MS,
  });
  await shell.runOk([...root, 'rm', '-rf', dir]);
  await shell.runOk([...root, 'mv', '-T', partial, dir]);
  await shell.runOk([...root, 'touch', path.join(dir, COMPLETE_MARKER)]);
}

function parseJsonOutput(result: { stdout: string }, what: string): unknown {
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new NodeSetupFailed(
      `${what} on the server printed no JSON: ${tail(result.stdout)}`,
      'the release on the server may be damaged: remove /opt/flotilla/releases on it and run this again',
    );
  }
}

/** `flotilla node setup`'s stderr: its message line and its `hint:` line. */
function splitHint(stderr: string): [string, string | undefined] {
  const lines = stderr.trim().split('\n');
  const hint = lines.find((line) => line.startsWith('hint: '))?.slice('hint: '.length);
  const message = lines
    .filter((line) => !line.startsWith('hint: '))
    .join(' ')
    .replace(/^flotilla node setup: /, '');
  return [message || 'no reason given', hint];
}

/** apt's first error, shortened: `Failed to fetch URL  reason` becomes `reason (fetching file)`. */
function aptFailure(output: string): string {
  const error = output
    .split('\n')
    .find((line) => line.startsWith('E: '))
    ?.slice(3);
  if (error === undefined) return tail(output);
  const fetch = /^Failed to fetch (\S+)\s+(.+)$/.exec(error);
  return fetch
    ? `${fetch[2]!.trim()} (fetching ${decodeURIComponent(path.basename(fetch[1]!))})`
    : error;
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-5).join(' / ') || '(no output)';
}
