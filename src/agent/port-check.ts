// Before a new instance starts or the gateway takes a port: is it free on this node, and if
// not, who holds it? Otherwise a stray process (another stack, a system service) would answer
// health checks and take traffic. A bind test alone is not enough for the gateway: Caddy sets
// SO_REUSEPORT, so a second Caddy binds a port the first holds and the kernel splits the
// connections between them. `listeners()` asks the kernel (through `ss`) who listens instead.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A port in the ephemeral range can be held for a moment by an outgoing connection that got
 * it as its local port: a taken port is tried again this often before it counts as in use.
 */
const BUSY_PROBES = 5;
const BUSY_PROBE_GAP_MS = 300;

function bindable(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    // Binding the wildcard address fails when any address holds the port.
    probe.listen({ port, host: '0.0.0.0', exclusive: true }, () =>
      probe.close(() => resolve(true)),
    );
  });
}

/** The first of `ports` something else holds, if any. */
export async function portInUse(ports: readonly number[]): Promise<number | undefined> {
  for (const port of ports) {
    let free = await bindable(port);
    for (let probe = 1; !free && probe < BUSY_PROBES; probe++) {
      await new Promise((resolve) => setTimeout(resolve, BUSY_PROBE_GAP_MS));
      free = await bindable(port);
    }
    if (!free) return port;
  }
  return undefined;
}

export interface TcpListener {
  /** As `ss` prints it: `0.0.0.0:443`, `[::]:443`, `*:443`, `127.0.0.53%lo:53`. */
  address: string;
  port: number;
  /** The processes holding the socket; empty when they cannot be seen (another user's). */
  pids: number[];
}

/** Every TCP socket listening in this network namespace (`ss -Htlnp`). */
export async function tcpListeners(): Promise<TcpListener[]> {
  const { stdout } = await run('ss', ['-Htlnp'], { timeout: 5_000, maxBuffer: 16 * 1024 * 1024 });
  return parseListeners(stdout);
}

/**
 * Lines of `ss -Htlnp`: state, queues, local address, peer address, then the processes as
 * `users:(("name",pid=1,fd=3),…)`. A process name is the program's own choice and may hold
 * anything, `pid=…` included, so names are never parsed: every `pid=N` counts. A forged one
 * can only add a holder, never hide the real `pid=` that follows the name.
 */
export function parseListeners(text: string): TcpListener[] {
  const listeners: TcpListener[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const address = fields[3];
    if (address === undefined) continue;
    const port = Number(address.slice(address.lastIndexOf(':') + 1));
    if (!Number.isInteger(port) || port <= 0 || port > 65_535) continue;
    const users = fields.slice(5).join(' ');
    const pids = [...new Set([...users.matchAll(/pid=(\d+)/g)].map((match) => Number(match[1])))];
    listeners.push({ address, port, pids });
  }
  return listeners;
}

/** The program name of `pid` for a message (`/proc/<pid>/comm`, printable characters only). */
export function programName(pid: number): string {
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    return comm.replace(/[^\x20-\x7e]/g, '?') || 'a program';
  } catch {
    return 'a program that has exited';
  }
}
