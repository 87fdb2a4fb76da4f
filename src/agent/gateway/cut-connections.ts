// Cuts the gateway's established connections to upstreams on a lost node. Packets to a node
// that vanished are not refused, only dropped: a request in flight on a kept-alive
// connection would wait for the client's own timeout. `ss -K` aborts those sockets; Caddy
// then retries the (idempotent) request on a live upstream.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** `dials` are host:port or [IPv6]:port. A failed cut only leaves those requests to their own timeouts. */
export async function cutConnections(dials: readonly string[]): Promise<void> {
  for (const dial of dials) {
    const match = /^\[?([^\]]+)\]?:(\d+)$/.exec(dial);
    if (!match) continue;
    const [, host, port] = match;
    await run('ss', ['-K', 'dst', host!, 'dport', '=', port!], { timeout: 5_000 }).catch(
      () => undefined,
    );
  }
}
