// The hub's Prometheus endpoint: GET /metrics behind a bearer token, on loopback and the
// hub's mesh address only (monitoring.metrics in the stack file). Node resources, backup
// ages and instance names are a map of the cluster, so it answers nothing without the token,
// never listens on a wildcard address, and slows down an address that keeps guessing.
import http from 'node:http';
import net from 'node:net';
import { tokenMatches } from '../api-server.ts';
import { closeAfterAnswer } from '../http-body.ts';
import { listenHttp, type HttpListener } from '../http-listen.ts';
import { RateLimiter, type RateLimit } from '../rate-limit.ts';
import { HubMetrics } from './hub-metrics.ts';
import type { MetricsSnapshot } from './metrics-snapshot.ts';

export const METRICS_PATH = '/metrics';

/** Failed authentications an address may make before it is answered 429 (refilled smoothly). */
export const FAILED_AUTH_LIMIT: RateLimit = { count: 10, windowMs: 60_000 };
/** When one more try is allowed again. */
const RETRY_AFTER_SECONDS = String(
  Math.ceil(FAILED_AUTH_LIMIT.windowMs / FAILED_AUTH_LIMIT.count / 1000),
);

/** A scrape is a short GET: a client that trickles its request is cut off. */
const REQUEST_TIMEOUT_MS = 10_000;

/** A listener that cannot be started as asked: the message says what, the hint how to fix it. */
export class MetricsListenerError extends Error {
  override readonly name = 'MetricsListenerError';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** The unspecified addresses (every interface), in any spelling: `::`, `0:0::0`, `::ffff:0.0.0.0`. */
const WILDCARD = new net.BlockList();
WILDCARD.addAddress('0.0.0.0', 'ipv4');
WILDCARD.addAddress('::', 'ipv6');

function checkHost(host: string): void {
  const family = net.isIP(host);
  if (family === 0)
    throw new MetricsListenerError(
      `the metrics endpoint listens on IP addresses, not "${host}"`,
      'give 127.0.0.1 (or ::1) and the hub node’s mesh address',
    );
  if (WILDCARD.check(host, family === 4 ? 'ipv4' : 'ipv6'))
    throw new MetricsListenerError(
      `the metrics endpoint never listens on ${host} (every interface, the public one included)`,
      'it listens on loopback and the hub node’s mesh address: Prometheus scrapes it from there',
    );
}

export interface MetricsServer {
  /** http://host:port/metrics for each host, with the port the OS gave. */
  urls: string[];
  close(): Promise<void>;
}

export async function startMetricsServer(options: {
  /** Loopback and the hub's mesh address; a wildcard (0.0.0.0, ::) is refused. */
  hosts: string[];
  /** 0: the OS picks one (the tests); the same port on every host. */
  port: number;
  /** What Prometheus sends as `Authorization: Bearer <token>`. */
  token: string;
  /** What the hub knows now; called on each authenticated scrape. */
  snapshot: () => MetricsSnapshot | Promise<MetricsSnapshot>;
  /** Milliseconds since the epoch, the rate limit's clock. */
  now?: () => number;
}): Promise<MetricsServer> {
  if (options.hosts.length === 0)
    throw new MetricsListenerError(
      'the metrics endpoint was given no address to listen on',
      'give 127.0.0.1 and the hub node’s mesh address',
    );
  for (const host of options.hosts) checkHost(host);
  if (options.token === '')
    throw new MetricsListenerError(
      'the metrics endpoint needs a token, and its token is empty',
      'set monitoring.metrics.token to a long random secret, e.g. ${secret:METRICS_TOKEN}',
    );
  const now = options.now ?? Date.now;
  const metrics = new HubMetrics();
  const failures = new RateLimiter(FAILED_AUTH_LIMIT);

  function answer(
    response: http.ServerResponse,
    status: number,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    response.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      ...headers,
    });
    response.end(`${message}\n`);
  }

  async function handle(request: http.IncomingMessage, response: http.ServerResponse) {
    const at = now();
    const source = request.socket.remoteAddress ?? 'unknown';
    // Checked before the token, so an address out of tries learns nothing from more guesses.
    if (!failures.allows(source, at))
      return answer(response, 429, 'too many failed authentications; try again later', {
        'retry-after': RETRY_AFTER_SECONDS,
      });
    if (!tokenMatches(request.headers.authorization, options.token)) {
      failures.take(source, at);
      return answer(response, 401, 'missing or wrong metrics token', {
        'www-authenticate': 'Bearer realm="flotilla metrics"',
      });
    }
    const { pathname } = new URL(request.url ?? '/', 'http://hub');
    if (pathname !== METRICS_PATH)
      return answer(response, 404, `metrics are served at GET ${METRICS_PATH}`);
    if (request.method !== 'GET')
      return answer(response, 405, `${METRICS_PATH} takes GET only`, { allow: 'GET' });
    if (
      Number(request.headers['content-length'] ?? 0) > 0 ||
      request.headers['transfer-encoding']
    ) {
      closeAfterAnswer(request, response);
      return answer(response, 413, 'a scrape has no request body');
    }
    const text = await metrics.render(await options.snapshot());
    response.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
    response.end(text);
  }

  const onRequest: http.RequestListener = (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) return void response.destroy();
      answer(response, 503, `the hub could not gather its metrics: ${(error as Error).message}`);
    });
  };

  // One server per address (a server listens on one), sharing the handler and so the rate
  // limit; all on the first one's port when the OS picks it. If one address cannot be taken,
  // the ones already listening are closed.
  const listeners: HttpListener[] = [];
  let port = options.port;
  try {
    for (const host of options.hosts) {
      const server = http.createServer(onRequest);
      server.requestTimeout = REQUEST_TIMEOUT_MS;
      server.headersTimeout = REQUEST_TIMEOUT_MS;
      const listener = await listenHttp(server, host, port);
      listeners.push(listener);
      port = Number(new URL(listener.url).port);
    }
  } catch (error) {
    await Promise.all(listeners.map((listener) => listener.close()));
    const code = (error as NodeJS.ErrnoException).code;
    throw new MetricsListenerError(
      `the metrics endpoint could not listen on port ${port}: ${(error as Error).message}`,
      code === 'EADDRINUSE'
        ? 'another process holds the port: set monitoring.metrics.port to a free one'
        : 'check that each address is one of this node’s (loopback or its mesh address)',
    );
  }
  return {
    urls: listeners.map((listener) => `${listener.url}${METRICS_PATH}`),
    close: async () => {
      await Promise.all(listeners.map((listener) => listener.close()));
    },
  };
}
