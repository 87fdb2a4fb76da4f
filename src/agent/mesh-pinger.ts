// Round-trip time from this node to each of its mesh peers, for the hub's node monitors
// ("is every pair of nodes reachable, and how fast": what seeds cron'd `tailscale ping`
// for). One ICMP echo per peer through the `ping` binary (unprivileged ICMP sockets or its
// capability: the agent needs no raw socket of its own), all peers at once up to a bound.
// The node's firewall accepts ICMP on every interface (plan/firewall.ts), so a peer that
// does not answer is down or cut off, not filtered.
import type { NodeNetwork } from '../protocol/node-network.ts';
import { runCaptured } from '../system/run-captured.ts';

export interface MeshPeer {
  node: string;
  /** Its mesh address. */
  address: string;
}

export interface PeerPing {
  peer: string;
  rttMs?: number;
  /** Why there is no round-trip time: no reply, unreachable, no ping binary, … */
  error?: string;
}

export interface PingOptions {
  timeoutMs: number;
  /** Pings in flight at once: a large mesh must not fork a hundred processes together. */
  concurrency?: number;
}

const DEFAULT_CONCURRENCY = 8;
/** An error line of ping's, kept short: it travels in every metrics message. */
const MAX_ERROR_LENGTH = 120;

/** The WireGuard peers of a node's network, at the mesh address each is allowed (its /32). */
export function meshPeers(network: NodeNetwork | undefined): MeshPeer[] {
  return (network?.mesh?.peers ?? []).flatMap(({ node, allowed_ips }) => {
    const address = allowed_ips[0]?.split('/')[0];
    return address === undefined ? [] : [{ node, address }];
  });
}

/** The `time=0.032 ms` of ping's reply line, in ms. */
export function parsePingTime(output: string): number | undefined {
  const match = /\btime[=<]([\d.]+) ?ms\b/.exec(output);
  return match ? Number(match[1]) : undefined;
}

/** What went wrong, from ping's output: an ICMP error, or its own complaint. */
function pingError(output: string, code: number | null, timeoutMs: number): string {
  const icmp = /^From \S+ icmp_seq=\d+ (.+)$/m.exec(output)?.[1];
  if (icmp !== undefined) return icmp.slice(0, MAX_ERROR_LENGTH);
  if (code === 1) return `no reply within ${Math.ceil(timeoutMs / 1000)}s`;
  if (/ENOENT/.test(output)) return 'the ping binary is missing (Debian: apt install iputils-ping)';
  const last = output.trim().split('\n').at(-1) ?? '';
  return (last === '' ? `ping exited with ${code}` : last).slice(0, MAX_ERROR_LENGTH);
}

/** One echo to `address`; never throws. */
export async function pingAddress(
  address: string,
  timeoutMs: number,
): Promise<{ rttMs?: number; error?: string }> {
  // ping waits whole seconds; the process is killed a second later should it hang anyway.
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const run = await runCaptured(['ping', '-n', '-c', '1', '-W', String(seconds), '--', address], {
    cwd: '/',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    timeoutMs: seconds * 1000 + 1000,
  });
  const rttMs = run.code === 0 ? parsePingTime(run.output) : undefined;
  if (rttMs !== undefined) return { rttMs };
  if (run.timedOut) return { error: `no reply within ${seconds}s` };
  return { error: pingError(run.output, run.code, seconds * 1000) };
}

/** Pings every peer, `concurrency` at a time; the answer keeps the peers' order. */
export async function pingPeers(
  peers: readonly MeshPeer[],
  { timeoutMs, concurrency = DEFAULT_CONCURRENCY }: PingOptions,
): Promise<PeerPing[]> {
  const results: PeerPing[] = new Array<PeerPing>(peers.length);
  let next = 0;
  const worker = async () => {
    while (next < peers.length) {
      const index = next++;
      const { node, address } = peers[index]!;
      results[index] = { peer: node, ...(await pingAddress(address, timeoutMs)) };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, peers.length) }, worker));
  return results;
}
