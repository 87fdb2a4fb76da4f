// The hub's HTTP API: loopback (or mesh) only, a bearer token on every call, JSON in and
// out, request bodies validated with zod. The CLI is its first client.
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { z } from 'zod';
import { BodyTooLarge, readCappedBody } from './http-body.ts';
import { listenHttp, type HttpListener } from './http-listen.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface ApiRequest {
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  headers: http.IncomingHttpHeaders;
  /** Aborted when the client goes away (for streams). */
  signal: AbortSignal;
}

/** A JSON answer, or a stream of server-sent events written through `send`. */
export type ApiResult =
  | { json: unknown; status?: number }
  | {
      events: (send: (event: string, data: unknown) => void, signal: AbortSignal) => Promise<void>;
    };

export interface ApiRoute {
  method: 'GET' | 'POST' | 'DELETE';
  /** e.g. /v1/services/:name/restart */
  path: string;
  body?: z.ZodType;
  /** The body is bytes (a Buffer, at most `maxBytes`), not JSON: an upload. */
  raw?: { maxBytes: number };
  handle(request: ApiRequest): Promise<ApiResult>;
}

const MAX_BODY_BYTES = 1024 * 1024;

function matchPath(pattern: string, pathname: string): Record<string, string> | undefined {
  const expected = pattern.split('/');
  const actual = pathname.split('/');
  if (expected.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, segment] of expected.entries()) {
    const value = actual[index]!;
    if (segment.startsWith(':')) params[segment.slice(1)] = decodeURIComponent(value);
    else if (segment !== value) return undefined;
  }
  return params;
}

export function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.replace(/^Bearer /, '') ?? '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

async function readBytes(request: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  try {
    return await readCappedBody(request, maxBytes);
  } catch (error) {
    if (!(error instanceof BodyTooLarge)) throw error;
    throw new ApiError(413, `request body too large (at most ${maxBytes} bytes)`);
  }
}

async function readBody(request: http.IncomingMessage): Promise<unknown> {
  const bytes = await readBytes(request, MAX_BODY_BYTES);
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    throw new ApiError(400, 'the request body is not JSON');
  }
}

function sendJson(response: http.ServerResponse, status: number, value: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(value));
}

export type ApiServer = HttpListener;

export async function startApiServer(options: {
  host: string;
  port: number;
  /**
   * Required on every call. null only for the public join listener, whose single route
   * authenticates each request itself (sealed to the hub, carrying a signed one-time token).
   */
  token: string | null;
  routes: ApiRoute[];
}): Promise<ApiServer> {
  const server = http.createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      if (error instanceof ApiError)
        sendJson(response, error.status, { error: error.message, details: error.details });
      else sendJson(response, 500, { error: `internal error: ${(error as Error).message}` });
    });
  });

  async function handle(
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<void> {
    if (options.token !== null && !tokenMatches(request.headers.authorization, options.token)) {
      throw new ApiError(401, 'missing or wrong API token');
    }
    const url = new URL(request.url ?? '/', 'http://hub');
    let params: Record<string, string> | undefined;
    const route = options.routes.find((candidate) => {
      if (candidate.method !== request.method) return false;
      params = matchPath(candidate.path, url.pathname);
      return params !== undefined;
    });
    if (!route || !params)
      throw new ApiError(404, `no such endpoint: ${request.method} ${url.pathname}`);
    let body = route.raw ? await readBytes(request, route.raw.maxBytes) : await readBody(request);
    if (route.body) {
      const parsed = route.body.safeParse(body);
      if (!parsed.success)
        throw new ApiError(400, 'invalid request body', z.treeifyError(parsed.error));
      body = parsed.data;
    }
    const abort = new AbortController();
    response.on('close', () => abort.abort());
    const result = await route.handle({
      params,
      query: url.searchParams,
      body,
      headers: request.headers,
      signal: abort.signal,
    });
    if ('json' in result) {
      sendJson(response, result.status ?? 200, result.json);
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    await result.events(
      (event, data) => response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
      abort.signal,
    );
    response.end();
  }

  return listenHttp(server, options.host, options.port);
}
