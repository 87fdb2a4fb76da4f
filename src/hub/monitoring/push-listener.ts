// The hub's heartbeat push listener: the HTTP side of heartbeat monitors. The gateway on
// the hub node proxies https://<monitoring.push.host>/ping/* and /api/push/* to it on
// loopback; it reads each request as a ping (push-protocols.ts), finds its monitor by token
// (push-tokens.ts) and hands the ping over, answering in the client's own dialect.
//
// Guessing and flooding: a token no monitor has is answered exactly like a path that is no
// ping (404), after the lookup, so answers never tell which monitors exist. Each source
// address gets a small budget of such misses (then 429 for everything it sends, before any
// lookup, so a 429 tells nothing either) and a larger one for all its requests; each
// monitor takes at most so many pings a minute (a job in a loop), answered 429 with
// Retry-After, which curl --retry honours. Bodies: a POST keeps its first 10 KB (the message)
// and one over 100 KB is refused (413) without being read.
//
// The source address behind the gateway is the client's (client-address.ts): the last
// X-Forwarded-For entry from a loopback peer, IPv6 per /64. A process on the hub node that
// writes that header itself gains fresh miss budgets, not tokens: derived tokens are 256-bit.
//
// Tokens are never logged: log lines name the monitor (found by its token) or the address.
import http from 'node:http';
import { clientAddress } from '../client-address.ts';
import { BodyTooLarge, closeAfterAnswer, readCappedBody } from '../http-body.ts';
import { listenHttp, type HttpListener } from '../http-listen.ts';
import { RateLimiter, type RateLimit } from '../rate-limit.ts';
import {
  notFound,
  parsePush,
  protocolOf,
  pushAnswer,
  PING_MESSAGE_BYTES,
  PUSH_METHODS,
  type Ping,
  type PushProtocol,
} from './push-protocols.ts';
import type { PushTokenTable } from './push-tokens.ts';

/** A body larger than this is no job's output worth reading: 413, unread. */
export const MAX_PING_BODY_BYTES = 100 * 1024;

export interface PushLimits {
  /** Pings one monitor takes (a job in a loop is cut to this). */
  perMonitor: RateLimit;
  /** Requests one source address may send, pings of every monitor included. */
  perAddress: RateLimit;
  /** Unknown tokens and paths one address may send before it is refused (guessing). */
  missesPerAddress: RateLimit;
}

const MINUTE = 60_000;

export const DEFAULT_PUSH_LIMITS: PushLimits = {
  perMonitor: { count: 60, windowMs: MINUTE },
  // Room for many cron jobs on one host (or behind one NAT), each with a start and an end.
  perAddress: { count: 600, windowMs: MINUTE },
  missesPerAddress: { count: 30, windowMs: MINUTE },
};

const TOO_LARGE =
  `the body is over ${MAX_PING_BODY_BYTES / 1024} KB: ` +
  `a ping keeps the first ${PING_MESSAGE_BYTES / 1024} KB of a job's output`;

/** A ping is a few hundred bytes: a client that trickles one is cut off. */
const REQUEST_TIMEOUT_MS = 10_000;

/** At most one log line a minute per throttled address or monitor, and 20 in all. */
const LOG_EACH: RateLimit = { count: 1, windowMs: MINUTE };
const LOG_ALL: RateLimit = { count: 20, windowMs: MINUTE };

/** The request's URL; one no URL parser takes reads as `/` (no ping: 404). */
function urlOf(request: http.IncomingMessage): URL {
  const base = 'http://push';
  const target = request.url ?? '/';
  return URL.canParse(target, base) ? new URL(target, base) : new URL(base);
}

function send(
  response: http.ServerResponse,
  protocol: PushProtocol,
  status: number,
  reason?: string,
  headers: Record<string, string> = {},
): void {
  const sent = pushAnswer(protocol, status, reason);
  response.writeHead(sent.status, { ...sent.headers, ...headers });
  response.end(sent.body);
}

export async function startPushListener(options: {
  host: string;
  port: number;
  tokens: () => PushTokenTable;
  onPing: (monitor: string, ping: Ping, at: number) => void;
  log: (line: string) => void;
  /** Milliseconds since the epoch; the rate limits' clock and each ping's time. */
  now?: () => number;
  limits?: Partial<PushLimits>;
}): Promise<HttpListener> {
  const now = options.now ?? Date.now;
  const limits = { ...DEFAULT_PUSH_LIMITS, ...options.limits };
  const perMonitor = new RateLimiter(limits.perMonitor);
  const perAddress = new RateLimiter(limits.perAddress);
  const misses = new RateLimiter(limits.missesPerAddress);
  const logEach = new RateLimiter(LOG_EACH);
  const logAll = new RateLimiter(LOG_ALL);

  const throttled = (key: string, at: number, line: string) => {
    if (logEach.take(key, at) && logAll.take('all', at)) options.log(`push listener: ${line}`);
  };
  const retryAfter = (limit: RateLimit) => String(Math.ceil(limit.windowMs / limit.count / 1000));

  async function handle(request: http.IncomingMessage, response: http.ServerResponse) {
    const at = now();
    const method = request.method ?? '';
    const url = urlOf(request);
    const protocol = protocolOf(url.pathname);
    const answer = (status: number, reason?: string, headers?: Record<string, string>) =>
      send(response, protocol, status, reason, headers);
    const tooMany = (limit: RateLimit) =>
      answer(429, 'rate limited: too many pings, try again later', {
        'retry-after': retryAfter(limit),
      });

    const source = clientAddress(request);
    if (!misses.allows(source, at)) {
      throttled(`miss ${source}`, at, `${source} sent too many unknown tokens; refusing it (429)`);
      return tooMany(limits.missesPerAddress);
    }
    if (!perAddress.take(source, at)) {
      throttled(`address ${source}`, at, `${source} sends too many pings; refusing some (429)`);
      return tooMany(limits.perAddress);
    }

    let body: Buffer | undefined;
    if (method === 'POST')
      try {
        body = await readCappedBody(request, MAX_PING_BODY_BYTES, PING_MESSAGE_BYTES);
      } catch (error) {
        if (!(error instanceof BodyTooLarge)) throw error;
        closeAfterAnswer(request, response);
        return answer(413, TOO_LARGE);
      }

    const parsed = parsePush({ method, path: url.pathname, query: url.searchParams, body });
    if (parsed.kind === 'refused') {
      if (parsed.status === 404) misses.take(source, at);
      const allow: Record<string, string> =
        parsed.status === 405 ? { allow: PUSH_METHODS.join(', ') } : {};
      return answer(parsed.status, parsed.reason, allow);
    }
    const token = parsed.kind === 'ping' ? parsed.ping.token : parsed.token;
    const monitor = options.tokens().find(token);
    if (monitor === undefined) {
      misses.take(source, at);
      return answer(404, notFound(protocol).reason);
    }
    if (!perMonitor.take(monitor, at)) {
      throttled(
        `monitor ${monitor}`,
        at,
        `monitor ${monitor} is pinged too often; refusing some (429)`,
      );
      return tooMany(limits.perMonitor);
    }
    if (parsed.kind === 'ping') {
      try {
        options.onPing(monitor, parsed.ping, at);
      } catch (error) {
        const why = (error as Error).message;
        options.log(`push listener: a ping of monitor ${monitor} was not recorded: ${why}`);
        return answer(503, 'the hub could not record this ping; try again');
      }
    }
    answer(200);
  }

  const server = http.createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      options.log(`push listener: ${(error as Error).message}`);
      if (response.headersSent) return void response.destroy();
      const protocol = protocolOf(urlOf(request).pathname);
      send(response, protocol, 503, 'the hub could not take this ping; try again');
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  return listenHttp(server, options.host, options.port);
}
