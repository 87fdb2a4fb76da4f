// The checks of `flotilla node doctor`, as pure functions of what was read from the machine
// (node-doctor.ts reads it): each gives one line, ok/warn/fail/skip, with a hint when there
// is something to do. Pure, so every threshold is tested with injected inputs.
import type { PeerStatus } from '../mesh/wireguard.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
}

const ok = (check: string, detail: string): CheckResult => ({ check, status: 'ok', detail });
const skip = (check: string, detail: string): CheckResult => ({ check, status: 'skip', detail });

/** A wanted command and the Debian package that provides it (scripts/install-system-deps.sh). */
export interface WantedCommand {
  command: string;
  pkg: string;
}

export function checkCommands(
  wanted: readonly WantedCommand[],
  present: (command: string) => boolean,
): CheckResult {
  const missing = wanted.filter((entry) => !present(entry.command));
  if (missing.length === 0) return ok('commands', `all ${wanted.length} present`);
  const packages = [...new Set(missing.map((entry) => entry.pkg))].sort();
  return {
    check: 'commands',
    status: 'fail',
    detail: `missing: ${missing.map((entry) => `${entry.command} (${entry.pkg})`).join(', ')}`,
    hint: `apt-get install ${packages.join(' ')}, or run scripts/install-system-deps.sh as root`,
  };
}

export interface WantedPort {
  port: number;
  /** What needs it, e.g. "gateway https" or "service web". */
  what: string;
}

export interface Listener {
  port: number;
  /** Unknown when the socket's owner cannot be read (not root). */
  pid?: number;
  process?: string;
}

/** Each port free, or held by one of Flotilla's processes (`ours`). */
export function checkPorts(
  wanted: readonly WantedPort[],
  listeners: readonly Listener[],
  ours: (pid: number) => boolean,
): CheckResult {
  if (wanted.length === 0) return skip('ports', 'no port to check (give the stack file: -f)');
  const problems: string[] = [];
  let unknown = false;
  for (const { port, what } of wanted) {
    const holder = listeners.find((listener) => listener.port === port);
    if (!holder || (holder.pid !== undefined && ours(holder.pid))) continue;
    if (holder.pid === undefined) unknown = true;
    problems.push(
      `${port} (${what}) is held by ${holder.pid === undefined ? 'another process' : `${holder.process ?? '?'} (pid ${holder.pid})`}`,
    );
  }
  if (problems.length === 0)
    return ok('ports', `${wanted.length} port${wanted.length === 1 ? '' : 's'} free or Flotilla's`);
  return {
    check: 'ports',
    status: unknown ? 'warn' : 'fail',
    detail: problems.join('; '),
    hint: unknown
      ? 'run as root to see which process holds them'
      : 'stop that process, or change the port in the stack file (gateway.http_port, gateway.https_port, a service’s ports)',
  };
}

export interface NodeRunState {
  /** The stack runs here: its hub, its agent or a service process. */
  running: boolean;
  /** This node is part of a WireGuard cluster (it has a mesh and a firewall). */
  cluster: boolean;
}

export function checkFirewall(state: NodeRunState, tablePresent: boolean): CheckResult {
  if (!state.cluster) return skip('firewall', 'a single machine: Flotilla loads no firewall');
  if (!state.running)
    return skip(
      'firewall',
      tablePresent ? 'the stack is down; table inet flotilla is still loaded' : 'the stack is down',
    );
  if (tablePresent) return ok('firewall', 'table inet flotilla loaded');
  return {
    check: 'firewall',
    status: 'fail',
    detail: 'the stack runs but table inet flotilla is not loaded: the node is unprotected',
    hint: 'check the agent log (`flotilla logs`) for an nft error; `flotilla apply` loads it again',
  };
}

/** WireGuard re-handshakes every 2 minutes on a live tunnel; 3 leaves a margin. */
export const HANDSHAKE_STALE_MS = 180_000;

export interface MeshState {
  /** The interface this node should have; undefined when none is known. */
  name: string | undefined;
  up: boolean;
  peers: readonly PeerStatus[];
}

export function checkMesh(state: NodeRunState, mesh: MeshState, now: Date): CheckResult {
  if (!state.cluster) return skip('mesh', 'a single machine: no mesh');
  if (!state.running) return skip('mesh', 'the stack is down');
  if (mesh.name === undefined || !mesh.up)
    return {
      check: 'mesh',
      status: 'fail',
      detail:
        mesh.name === undefined
          ? 'no mesh interface is known for this node'
          : `the mesh interface ${mesh.name} is not up`,
      hint: 'restart the agent (systemctl restart flotilla-agent); it brings the interface up',
    };
  const stale = mesh.peers.filter(
    (peer) =>
      peer.latestHandshake === undefined ||
      now.getTime() - peer.latestHandshake.getTime() > HANDSHAKE_STALE_MS,
  );
  if (stale.length === 0)
    return ok('mesh', `${mesh.name} up, ${mesh.peers.length} peer(s) with a recent handshake`);
  return {
    check: 'mesh',
    status: 'warn',
    detail: `${mesh.name} up; no handshake for 3 min with ${stale.map((peer) => peer.endpoint ?? peer.publicKey).join(', ')}`,
    hint: `check UDP reaches those peers (wg show ${mesh.name}; their firewall and address)`,
  };
}

export const SKEW_WARN_MS = 2_000;
export const SKEW_FAIL_MS = 30_000;

/** The hub's clock (an HTTP Date header: whole seconds) against ours, or why it was not read. */
export function checkClock(hub: { date: Date } | { skipped: string }, now: Date): CheckResult {
  if ('skipped' in hub) return skip('clock', hub.skipped);
  const skew = Math.abs(now.getTime() - hub.date.getTime());
  const seconds = `${(skew / 1000).toFixed(0)} s`;
  if (skew <= SKEW_WARN_MS) return ok('clock', `within ${seconds} of the hub`);
  return {
    check: 'clock',
    status: skew > SKEW_FAIL_MS ? 'fail' : 'warn',
    detail: `${seconds} off the hub's clock`,
    hint: 'enable time sync on both machines (timedatectl set-ntp true)',
  };
}

export const DISK_WARN = 0.1;
export const DISK_FAIL = 0.02;

export function checkDisk(dir: string, free: number, total: number): CheckResult {
  const ratio = total > 0 ? free / total : 0;
  const percent = `${(ratio * 100).toFixed(1)} % free`;
  if (ratio >= DISK_WARN) return ok('disk', `${percent} on ${dir}`);
  return {
    check: 'disk',
    status: ratio < DISK_FAIL ? 'fail' : 'warn',
    detail: `${percent} on ${dir}`,
    hint: 'free space there (old logs, docker images: docker image prune) or grow the disk',
  };
}
