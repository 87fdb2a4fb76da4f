// The two push dialects existing heartbeat clients speak, read into one Ping, and the
// answers each dialect's clients expect, so a crontab line written for Healthchecks.io or an
// Uptime Kuma push client works unchanged against the hub:
//   Healthchecks: GET|HEAD|POST /ping/<token>[/start|/fail|/log|/<exit code 0-255>][?rid=…]
//     answers `OK` (text/plain), `not found` (404); a POST body (the job's output) is the message.
//   Uptime Kuma:  GET|HEAD|POST /api/push/<token>?status=up|down&msg=…&ping=<ms>
//     answers {"ok":true}, or {"ok":false,"msg":…} (404 for an unknown token).
// Pure: the listener (push-listener.ts) reads the request, finds the token, and answers.
import { StringDecoder } from 'node:string_decoder';

export type PushProtocol = 'healthchecks' | 'kuma';

export interface Ping {
  token: string;
  signal: 'success' | 'start' | 'fail';
  exitCode?: number;
  message?: string;
  pingMs?: number;
  protocol: PushProtocol;
}

/** A request to the push listener: a ping, a log line (taken, no state change), or refused. */
export type PushRequest =
  | { kind: 'ping'; ping: Ping }
  | { kind: 'log'; token: string; protocol: 'healthchecks' }
  | { kind: 'refused'; protocol: PushProtocol; status: 400 | 404 | 405; reason: string };

/** A ping's message keeps this much of the job's output (Healthchecks keeps its start too). */
export const PING_MESSAGE_BYTES = 10 * 1024;

export const PUSH_METHODS: readonly string[] = ['GET', 'HEAD', 'POST'];

/** Kuma's own words for an unknown token, which its clients may show. */
const KUMA_NOT_FOUND = 'Monitor not found or not active.';
const HEALTHCHECKS_NOT_FOUND = 'not found';

const HEALTHCHECKS_PATH = /^\/ping\/([^/]+)(?:\/([^/]+))?$/;
const KUMA_PATH = /^\/api\/push\/([^/]+)$/;
const EXIT_CODE = /^\d+$/;

/** The dialect a path speaks, for the answer to a request that is not a ping. */
export function protocolOf(path: string): PushProtocol {
  return path === '/api/push' || path.startsWith('/api/push/') ? 'kuma' : 'healthchecks';
}

/** At most PING_MESSAGE_BYTES of `bytes` as text, never cut inside a character; none if empty. */
function messageOf(bytes: Buffer): string | undefined {
  const text = new StringDecoder('utf8').write(bytes.subarray(0, PING_MESSAGE_BYTES));
  return text === '' ? undefined : text;
}

function decodeToken(segment: string): string | undefined {
  try {
    const token = decodeURIComponent(segment);
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}

function refused(
  protocol: PushProtocol,
  status: 400 | 404 | 405,
  reason: string,
): PushRequest & { kind: 'refused' } {
  return { kind: 'refused', protocol, status, reason };
}

/**
 * The 404 for a path that is no ping and for a token no monitor has: the same answer, so
 * neither tells which monitors exist.
 */
export function notFound(protocol: PushProtocol): PushRequest & { kind: 'refused' } {
  return refused(protocol, 404, protocol === 'kuma' ? KUMA_NOT_FOUND : HEALTHCHECKS_NOT_FOUND);
}

function healthchecks(token: string, action: string | undefined, body: Buffer): PushRequest {
  const message = messageOf(body);
  const ping = (signal: Ping['signal'], exitCode?: number): PushRequest => ({
    kind: 'ping',
    ping: {
      token,
      signal,
      protocol: 'healthchecks',
      ...(exitCode === undefined ? {} : { exitCode }),
      ...(message === undefined ? {} : { message }),
    },
  });
  if (action === undefined) return ping('success');
  if (action === 'start' || action === 'fail') return ping(action);
  if (action === 'log') return { kind: 'log', token, protocol: 'healthchecks' };
  if (!EXIT_CODE.test(action)) return notFound('healthchecks');
  const exitCode = Number(action);
  // Healthchecks' own answer to an exit status out of range.
  if (exitCode > 255) return refused('healthchecks', 400, 'invalid url format');
  return ping(exitCode === 0 ? 'success' : 'fail', exitCode);
}

function kuma(token: string, query: URLSearchParams): PushRequest {
  // As Kuma reads them: status defaults to up and anything else is down; a ping that is
  // not a number is left out.
  const status = query.get('status') || 'up';
  const message = messageOf(Buffer.from(query.get('msg') ?? '', 'utf8'));
  const pingMs = Number.parseFloat(query.get('ping') ?? '');
  return {
    kind: 'ping',
    ping: {
      token,
      signal: status === 'up' ? 'success' : 'fail',
      protocol: 'kuma',
      ...(message === undefined ? {} : { message }),
      ...(Number.isFinite(pingMs) && pingMs >= 0 ? { pingMs } : {}),
    },
  };
}

/**
 * Reads one request to the push listener. `path` is the URL's path as sent (still
 * percent-encoded); `body` is what the listener kept of a POST body (the message).
 */
export function parsePush(request: {
  method: string;
  path: string;
  query: URLSearchParams;
  body?: Buffer;
}): PushRequest {
  const protocol = protocolOf(request.path);
  if (!PUSH_METHODS.includes(request.method))
    return refused(protocol, 405, `a ping is GET, HEAD or POST, not ${request.method}`);
  const kumaPath = KUMA_PATH.exec(request.path);
  const healthchecksPath = kumaPath ? null : HEALTHCHECKS_PATH.exec(request.path);
  const token = decodeToken((kumaPath ?? healthchecksPath)?.[1] ?? '');
  if (token === undefined) return notFound(protocol);
  if (kumaPath) return kuma(token, request.query);
  return healthchecks(token, healthchecksPath![2], request.body ?? Buffer.alloc(0));
}

/** The answer a dialect's clients expect: `status` 200 (the ping was taken) or an error. */
export function pushAnswer(
  protocol: PushProtocol,
  status: number,
  reason?: string,
): { status: number; headers: Record<string, string>; body: string } {
  const headers = { 'cache-control': 'no-store' };
  if (protocol === 'kuma')
    return {
      status,
      headers: { ...headers, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(status === 200 ? { ok: true } : { ok: false, msg: reason ?? '' }),
    };
  return {
    status,
    headers: { ...headers, 'content-type': 'text/plain; charset=utf-8' },
    body: status === 200 ? 'OK' : (reason ?? ''),
  };
}
