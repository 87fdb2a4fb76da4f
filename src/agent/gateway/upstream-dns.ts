// Which instances serve each route, told to Caddy by DNS so that it never has to reload for it.
// Every reload of Caddy 2.6 abandons requests waiting to retry (HTTP 502) and closes idle
// keep-alive connections (ECONNRESET); health changes come many times a minute. Caddy's
// dynamic upstreams look a route's SRV name up here (lazily, every REFRESH of the config), and
// dial each target name, which resolves here too: the hub's healthy set for that route moves
// traffic as soon as the agent hands it over, with no config load at all.
//
// Boundary: this listener has no authentication. It binds 127.0.0.1 only, so only processes of
// this machine reach it, and it answers nothing but the upstream sets of this gateway (which
// instances are healthy, on which node address and port): no recursion, no other name. Its
// port is below 1024: while the agent is down (an upgrade, a crash) Caddy keeps asking that
// port, and a local user who could bind it would answer with upstreams of their own and get
// the gateway's traffic, cookies and credentials included. Only root binds such a port.
import dgram from 'node:dgram';
import path from 'node:path';
import {
  buildResponse,
  formatError,
  MalformedQuery,
  parseQuery,
  RCODE,
  TYPE,
} from './dns-message.ts';
import type { AnswerRecord, Query } from './dns-message.ts';

const LOOPBACK = '127.0.0.1';
/** Every name of the upstream zone ends so; the rest of the DNS is refused. */
export const UPSTREAM_ZONE = 'flotilla.';
const ADDRESS_SUFFIX = `.addr.${UPSTREAM_ZONE}`;

/** Where the gateway's agent keeps its responder's port, so the next agent takes it again. */
export function upstreamPortFile(caddyDir: string): string {
  return path.join(caddyDir, 'upstream-dns.port');
}

/** SRV name → the `host:port` dials of the instances that serve it now. */
export type UpstreamSets = Record<string, readonly string[]>;

/** The name an SRV record targets for `host` (SRV targets are names, never addresses). */
export function addressName(host: string): string {
  return `${host.replaceAll('.', '-')}${ADDRESS_SUFFIX}`;
}

export class UpstreamDns {
  private sets = new Map<string, AnswerRecord[]>();
  private addresses = new Map<string, string>();
  private closing: Promise<void> | undefined;
  /** Queries answered, by outcome: what tests and the bench read. */
  readonly answered = { records: 0, empty: 0, nxdomain: 0, refused: 0, malformed: 0 };

  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (packet, sender) => this.receive(packet, sender));
    // A datagram that cannot be sent concerns one asker only; it must not end the agent.
    socket.on('error', () => undefined);
  }

  /**
   * Listens on 127.0.0.1:`port` (the last agent's), or on a free privileged port when that
   * one is taken, is 0, or is one any user could bind (an older agent's).
   */
  static async start(port = 0): Promise<UpstreamDns> {
    if (port !== 0 && (port < UNPRIVILEGED_FROM || !IS_ROOT)) {
      try {
        return new UpstreamDns(await bind(port));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      }
    }
    return new UpstreamDns(await bindFree());
  }

  get port(): number {
    return this.socket.address().port;
  }

  /**
   * Where Caddy's resolvers ask, as a Caddy network address: `udp/` or Caddy would dial the
   * resolver over TCP (its addresses default to tcp), which this responder does not speak.
   */
  get address(): string {
    return `udp/${LOOPBACK}:${this.port}`;
  }

  /** The new sets replace all the old ones, at once. */
  update(sets: UpstreamSets): void {
    const records = new Map<string, AnswerRecord[]>();
    const addresses = new Map<string, string>();
    for (const [name, dials] of Object.entries(sets)) {
      records.set(
        name.toLowerCase(),
        dials.map((dial, index) => {
          const [host, port] = splitDial(dial);
          addresses.set(addressName(host), host);
          // Distinct priorities keep the order stable (Go shuffles equal ones), so Caddy's
          // round robin alternates instead of picking at random.
          return { type: TYPE.SRV, priority: index, weight: 0, port, target: addressName(host) };
        }),
      );
    }
    this.sets = records;
    this.addresses = addresses;
  }

  /** Idempotent: an agent may stop the gateway after detaching it. */
  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => this.socket.close(() => resolve()));
    return this.closing;
  }

  private receive(packet: Buffer, sender: dgram.RemoteInfo): void {
    if (sender.address !== LOOPBACK) return; // bound to loopback: cannot happen, kept as a guard
    let response: Buffer | undefined;
    try {
      response = this.answer(parseQuery(packet));
    } catch (error) {
      if (!(error instanceof MalformedQuery)) throw error;
      this.answered.malformed += 1;
      response = formatError(packet);
    }
    // An asker that went away: nothing to do.
    if (response) this.socket.send(response, sender.port, sender.address, () => undefined);
  }

  private answer(query: Query): Buffer {
    const srv = this.sets.get(query.name);
    const address = this.addresses.get(query.name);
    if (srv === undefined && address === undefined) {
      const ours = query.name.endsWith(`.${UPSTREAM_ZONE}`) || query.name === UPSTREAM_ZONE;
      this.answered[ours ? 'nxdomain' : 'refused'] += 1;
      return buildResponse(query, ours ? RCODE.NXDOMAIN : RCODE.REFUSED);
    }
    // A known name asked for another type: no records of that type (NODATA), not NXDOMAIN.
    const records =
      srv !== undefined && query.type === TYPE.SRV
        ? srv
        : address !== undefined && query.type === TYPE.A
          ? [{ type: TYPE.A, address } as const]
          : [];
    this.answered[records.length > 0 ? 'records' : 'empty'] += 1;
    return buildResponse(query, RCODE.NOERROR, records);
  }
}

/** Linux's default net.ipv4.ip_unprivileged_port_start. */
const UNPRIVILEGED_FROM = 1024;
/** Where a free port is looked for: below the unprivileged ones, above the well-known. */
const PRIVILEGED_RANGE = { from: 600, to: UNPRIVILEGED_FROM - 1 };
const IS_ROOT = process.getuid?.() === 0;

/** A free privileged port; any free port for an agent not run as root (a developer's). */
async function bindFree(): Promise<dgram.Socket> {
  if (!IS_ROOT) return bind(0);
  const { from, to } = PRIVILEGED_RANGE;
  for (let attempt = 0; attempt < 64; attempt++) {
    try {
      return await bind(from + Math.floor(Math.random() * (to - from + 1)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
  throw new Error(
    `no free UDP port in ${from}–${to} on ${LOOPBACK} for the gateway's upstream DNS responder`,
  );
}

function bind(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(port, LOOPBACK, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/** `host:port` as the hub's schema checked it (an IPv4 address and a port). */
function splitDial(dial: string): [string, number] {
  const colon = dial.lastIndexOf(':');
  return [dial.slice(0, colon), Number(dial.slice(colon + 1))];
}
