// Per-route request counts and durations on a gateway node (issue 14, opt-in: CaddyOptions
// routeMetrics, as each log line costs Caddy 2.6 real throughput), from Caddy's access log:
// Caddy 2.6's own metrics have no host or route label. Caddy's net log writer connects to a
// unix socket the agent listens on, in Caddy's 0700 admin directory (only Caddy's user and root
// reach it), and writes a JSON line per request with its host, path, status and duration (the
// rest, the query above all, is cut inside Caddy: plan/caddy.ts withAccessLog). Each line is
// counted under its route: the host's longest path prefix. The counters run from this agent's
// start (Prometheus takes the drop at a restart as a reset); requests Caddy answers while no
// agent listens are not counted (Caddy writes their lines to its own log, and redials later).
import { chown, chmod, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import type { ServedRoute } from '../../plan/caddy.ts';
import type { RouteTrafficMetrics, StatusClass } from '../../protocol/node-metrics.ts';
import { adminSocketPath } from './caddy-admin.ts';

/** Where requests no route claims (unknown hosts, paths outside every prefix) are counted. */
export const UNROUTED = 'unrouted';
/** A line is ~100 bytes; a connection sending one this long is not Caddy's access log. */
const MAX_LINE = 64 * 1024;

/** The socket Caddy's access log goes to, beside its admin socket. */
export function accessLogSocketPath(caddyDir: string): string {
  return path.join(path.dirname(adminSocketPath(caddyDir)), 'access.sock');
}

const accessLineSchema = z.object({
  request: z.object({ host: z.string(), uri: z.string() }),
  status: z.number().int(),
  /** Seconds. */
  duration: z.number().nonnegative(),
});

interface Counter {
  requests: Partial<Record<StatusClass, number>>;
  durationSeconds: number;
}

export class RouteTraffic {
  /** Host (lower case) → its routes, longest prefix first, the whole-host route last. */
  private routes = new Map<string, ServedRoute[]>();
  private readonly counters = new Map<string, Counter>();
  private readonly connections = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly socket: string,
  ) {}

  /**
   * Listens on `socket`, handed to the owner of its directory (Caddy's user when the agent is
   * root) and closed to everyone else.
   */
  static async listen(socket: string): Promise<RouteTraffic> {
    // A previous agent's socket (it died without closing) would make listen fail.
    await rm(socket, { force: true });
    const server = net.createServer();
    const traffic = new RouteTraffic(server, socket);
    server.on('connection', (connection) => traffic.read(connection));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const owner = await stat(path.dirname(socket));
    await chown(socket, owner.uid, owner.gid);
    await chmod(socket, 0o600);
    return traffic;
  }

  /** The routes the gateway serves now; counts of routes it no longer serves are dropped. */
  serve(routes: readonly ServedRoute[]): void {
    this.routes = new Map();
    for (const route of routes) {
      const host = route.host.toLowerCase();
      this.routes.set(host, [...(this.routes.get(host) ?? []), route]);
    }
    for (const entries of this.routes.values())
      entries.sort((a, b) => (b.path?.length ?? -1) - (a.path?.length ?? -1));
    const served = new Set([UNROUTED, ...routes.map((route) => route.url)]);
    for (const url of this.counters.keys()) if (!served.has(url)) this.counters.delete(url);
  }

  /** Counts one access log line; anything else is ignored. */
  record(line: string): void {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return;
    }
    const parsed = accessLineSchema.safeParse(value);
    if (!parsed.success) return;
    const { request, status, duration } = parsed.data;
    if (status < 100 || status > 599) return;
    const url = this.route(request.host, request.uri);
    const counter = this.counters.get(url) ?? { requests: {}, durationSeconds: 0 };
    const statusClass = `${Math.floor(status / 100)}xx` as StatusClass;
    counter.requests[statusClass] = (counter.requests[statusClass] ?? 0) + 1;
    counter.durationSeconds += duration;
    this.counters.set(url, counter);
  }

  /** Every route's counters since this agent started, for the node metrics message. */
  report(): RouteTrafficMetrics[] {
    return [...this.counters].map(([route, counter]) => ({
      route,
      requests: { ...counter.requests },
      duration_seconds: counter.durationSeconds,
    }));
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The URL of the route that answered: the host's longest prefix covering the path. */
  private route(hostHeader: string, uri: string): string {
    const host = hostHeader.replace(/:\d+$/, '').toLowerCase();
    // Caddy cut the query already; the path alone matters, and matches case-insensitively.
    const requestPath = uri.split('?', 1)[0]!.toLowerCase();
    const match = this.routes
      .get(host)
      ?.find(
        ({ path: prefix }) =>
          prefix === undefined ||
          requestPath === prefix.toLowerCase() ||
          requestPath.startsWith(`${prefix.toLowerCase()}/`),
      );
    return match?.url ?? UNROUTED;
  }

  private read(connection: net.Socket): void {
    this.connections.add(connection);
    connection.on('close', () => this.connections.delete(connection));
    connection.on('error', () => connection.destroy());
    connection.setEncoding('utf8');
    let pending = '';
    connection.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop()!;
      if (pending.length > MAX_LINE) connection.destroy();
      for (const line of lines) if (line !== '') this.record(line);
    });
  }
}
