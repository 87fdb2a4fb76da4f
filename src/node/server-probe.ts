// What `node add` checks on a server before it changes anything: a Linux it can install
// packages on (apt), on the CPU the packed node binary runs on, and a login that is root or
// may sudo without a password.
import type { RemoteShell } from '../ssh/remote-shell.ts';
import { NodeSetupFailed } from './node-setup-error.ts';

/** `uname -m` for each process.arch a release can be packed on. */
const MACHINES: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };

export interface ServerFacts {
  os: string;
  machine: string;
  /** Prefix for commands that need root: nothing for root, `sudo -n` otherwise. */
  asRoot: string[];
}

export async function probeServer(shell: RemoteShell, arch: string): Promise<ServerFacts> {
  const where = shell.target.host;
  const machine = (await shell.runOk(['uname', '-m'])).stdout.trim();
  if (machine !== MACHINES[arch])
    throw new NodeSetupFailed(
      `${where} is ${machine}, and this Flotilla's release is for ${MACHINES[arch] ?? arch}`,
      `run node add from a ${machine} machine (the release carries its node binary), or pick a ${MACHINES[arch] ?? arch} server`,
    );
  const osRelease = parseOsRelease((await shell.run(['cat', '/etc/os-release'])).stdout);
  const family = `${osRelease.ID ?? ''} ${osRelease.ID_LIKE ?? ''}`;
  const os = osRelease.PRETTY_NAME ?? osRelease.ID ?? 'an unknown Linux';
  if (!/\b(debian|ubuntu)\b/.test(family))
    throw new NodeSetupFailed(
      `${where} runs ${os}: node add installs packages with apt, on Debian or Ubuntu`,
      'use a Debian 12 or Ubuntu 22.04+ server',
    );
  if (await shell.isRoot()) return { os, machine, asRoot: [] };
  const sudo = await shell.run(['sudo', '-n', 'true']);
  if (sudo.code !== 0)
    throw new NodeSetupFailed(
      `${shell.target.user} on ${where} is not root and cannot sudo without a password`,
      `log in as root (root@${where}), or allow ${shell.target.user} passwordless sudo`,
    );
  return { os, machine, asRoot: ['sudo', '-n'] };
}

export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(.*))$/.exec(line.trim());
    if (match) fields[match[1]!] = (match[2] ?? match[3] ?? match[4] ?? '').replace(/\\(.)/g, '$1');
  }
  return fields;
}
