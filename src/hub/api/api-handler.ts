// Everything the hub API does after a listener has authenticated a request: find the route
// (404), check the principal's scope (403) and rate (429 + Retry-After), validate the query
// and body (400), run the handler, answer JSON or a server-sent event stream, and file an
// audit entry for every call that is not a GET. The loopback listener, the dashboard's
// listener and the dashboard's server-rendered pages (`call`) all go through here, so none of
// them can do more than the API allows.
import type http from 'node:http';
import { z } from 'zod';
import { BodyTooLarge, readCappedBody } from '../http-body.ts';
import { RateLimiter, type RateLimit } from '../rate-limit.ts';
import type { AuditEntry } from './api-audit.ts';
import {
  ApiError,
  scopeAllows,
  type ApiMethod,
  type ApiRequest,
  type ApiResult,
  type ApiRoute,
  type Principal,
} from './api-route.ts';

const MAX_BODY_BYTES = 1024 * 1024;

/** Per token or session; generous for a person or a script, short of a loop hammering the hub. */
export const DEFAULT_API_RATE_LIMIT: RateLimit = { count: 300, windowMs: 60_000 };

export interface ApiHandlerOptions {
  /** Called once for every call that is not a GET, whatever its outcome. */
  audit: (entry: AuditEntry) => void;
  rateLimit?: RateLimit;
  now?: () => number;
}

interface Matched {
  route: ApiRoute;
  params: Record<string, string>;
}

function matchPath(pattern: string, pathname: string): Record<string, string> | undefined {
  const expected = pattern.split('/');
  const actual = pathname.split('/');
  if (expected.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, segment] of expected.entries()) {
    const value = actual[index]!;
    if (segment.startsWith(':')) {
      try {
        params[segment.slice(1)] = decodeURIComponent(value);
      } catch {
        return undefined;
      }
    } else if (segment !== value) return undefined;
  }
  return params;
}

async function readBytes(request: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  try {
    return await readCappedBody(request, maxBytes);
  } catch (error) {
    if (!(error instanceof BodyTooLarge)) throw error;
    throw new ApiError(413, `request body too large (at most ${maxBytes} bytes)`);
  }
}

async function readJsonBody(request: http.IncomingMessage): Promise<unknown> {
  const bytes = await readBytes(request, MAX_BODY_BYTES);
  if (bytes.length === 0) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    throw new ApiError(400, 'the request body is not JSON');
  }
}

/**
 * Whether `call` can run the route: JSON in and out, or a stream that ends (`done` or
 * `failed`); not an upload, nor a stream that follows until the client goes (logs, events).
 */
export function callableInProcess(route: ApiRoute): boolean {
  const { stream } = route;
  return !route.raw && (stream === undefined || ('done' in stream && 'failed' in stream));
}

/**
 * A stream that ends (a deploy, a rollback: steps, then `done` or `failed`) run to its end in
 * process: `done`'s data, or `failed`'s as an ApiError (a page shows it as it would a refusal).
 */
async function streamOutcome(
  result: Extract<ApiResult, { events: unknown }>,
  signal: AbortSignal,
): Promise<unknown> {
  let outcome: { event: 'done' | 'failed'; data: unknown } | undefined;
  await result.events((event, data) => {
    if (event === 'done' || event === 'failed') outcome = { event, data };
  }, signal);
  if (outcome?.event === 'done') return outcome.data;
  const failure = outcome?.data as { error?: unknown } | undefined;
  throw new ApiError(
    400,
    typeof failure?.error === 'string' ? failure.error : 'the stream ended without a result',
    failure,
  );
}

export function sendJson(response: http.ServerResponse, status: number, value: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(value));
}

/** An error as the API answers it; anything but an ApiError is the hub's fault (500). */
export function sendError(response: http.ServerResponse, error: unknown): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  if (error instanceof ApiError) {
    if (error.status === 429 && error.details !== undefined)
      response.setHeader(
        'retry-after',
        String((error.details as { retry_after: number }).retry_after),
      );
    sendJson(response, error.status, { error: error.message, details: error.details });
  } else sendJson(response, 500, { error: `the hub failed: ${(error as Error).message}` });
}

function parse(schema: z.ZodType | undefined, value: unknown, what: string): unknown {
  if (!schema) return value;
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (issue) => `${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`,
    );
    throw new ApiError(400, `invalid ${what}: ${issues.join('; ')}`, z.treeifyError(parsed.error));
  }
  return parsed.data;
}

export class ApiHandler {
  private readonly limiter: RateLimiter;
  private readonly now: () => number;

  constructor(
    readonly routes: readonly ApiRoute[],
    private readonly options: ApiHandlerOptions,
  ) {
    this.limiter = new RateLimiter(options.rateLimit ?? DEFAULT_API_RATE_LIMIT);
    this.now = options.now ?? Date.now;
  }

  /**
   * Answers one HTTP request for an already authenticated principal: route match (404), scope
   * (403), rate limit per principal (429 + Retry-After), body/query validation (400), JSON or SSE.
   */
  async serve(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    principal: Principal,
  ): Promise<void> {
    try {
      const url = new URL(request.url ?? '/', 'http://hub');
      const matched = this.admit(request.method ?? 'GET', url.pathname, principal);
      await this.audited(matched, principal, async () => {
        const { route } = matched;
        const body = route.raw
          ? await readBytes(request, route.raw.maxBytes)
          : await readJsonBody(request);
        const abort = new AbortController();
        response.on('close', () => abort.abort());
        const result = await this.run(matched, principal, {
          query: url.searchParams,
          body,
          headers: request.headers,
          signal: abort.signal,
        });
        if ('json' in result) {
          sendJson(response, result.status ?? 200, result.json);
          return result.status ?? 200;
        }
        response.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-store',
        });
        // The stream runs on after the audit entry: its outcome is that it started.
        void result
          .events(
            (event, data) => response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
            abort.signal,
          )
          .then(
            () => response.end(),
            () => response.destroy(),
          );
        return 200;
      });
    } catch (error) {
      sendError(response, error);
    }
  }

  /**
   * The same route, in process, for server-rendered pages: same scope check, rate limit,
   * validation and audit; JSON routes only; throws ApiError.
   */
  async call(
    method: ApiMethod,
    path: string,
    options: { principal: Principal; body?: unknown; query?: URLSearchParams },
  ): Promise<unknown> {
    const { principal } = options;
    const matched = this.admit(method, path, principal);
    if (!callableInProcess(matched.route))
      throw new ApiError(400, `${method} ${path} is an upload or a stream: call it over HTTP`);
    let answer: unknown;
    await this.audited(matched, principal, async () => {
      const signal = new AbortController().signal;
      const result = await this.run(matched, principal, {
        query: options.query ?? new URLSearchParams(),
        body: options.body,
        headers: {},
        signal,
      });
      if ('json' in result) {
        answer = result.json;
        return result.status ?? 200;
      }
      answer = await streamOutcome(result, signal);
      return 200;
    });
    return answer;
  }

  /** The route, if the principal may call it now; refusals of a known route are audited. */
  private admit(method: string, pathname: string, principal: Principal): Matched {
    let matched: Matched | undefined;
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const params = matchPath(route.path, pathname);
      if (params) {
        matched = { route, params };
        break;
      }
    }
    if (!matched) throw new ApiError(404, `no such endpoint: ${method} ${pathname}`);
    const refusal = this.refusal(matched.route, principal);
    if (refusal) {
      this.audit(matched, principal, refusal.status);
      throw refusal;
    }
    return matched;
  }

  private refusal(route: ApiRoute, principal: Principal): ApiError | undefined {
    if (!scopeAllows(principal.scope, route.scope))
      return new ApiError(
        403,
        `${route.method} ${route.path} needs the ${route.scope} scope; ${principal.name} has ${principal.scope}`,
        {
          hint: `create a token with --scope ${route.scope}: flotilla tokens create NAME --scope ${route.scope}`,
        },
      );
    // The hub's own CLI (the state dir's token) is not limited: whoever holds it holds the hub.
    if (principal.kind === 'local') return undefined;
    if (this.limiter.take(`${principal.kind}:${principal.name}`, this.now())) return undefined;
    const limit = this.options.rateLimit ?? DEFAULT_API_RATE_LIMIT;
    const retryAfter = Math.max(1, Math.ceil(limit.windowMs / limit.count / 1000));
    return new ApiError(
      429,
      `too many requests from ${principal.name}: at most ${limit.count} per ${limit.windowMs / 1000} s`,
      { retry_after: retryAfter },
    );
  }

  private async run(
    { route, params }: Matched,
    principal: Principal,
    input: Pick<ApiRequest, 'query' | 'body' | 'headers' | 'signal'>,
  ): Promise<ApiResult> {
    const queryValues = route.query
      ? parse(route.query, Object.fromEntries(input.query), 'query')
      : undefined;
    const body = route.raw ? input.body : parse(route.body, input.body, 'request body');
    return route.handle({ ...input, params, principal, queryValues, body });
  }

  /** Runs `work` (which answers the status it sent) and files the outcome of a non-GET call. */
  private async audited(
    matched: Matched,
    principal: Principal,
    work: () => Promise<number>,
  ): Promise<void> {
    let status = 500;
    try {
      status = await work();
    } catch (error) {
      if (error instanceof ApiError) status = error.status;
      throw error;
    } finally {
      this.audit(matched, principal, status);
    }
  }

  private audit({ route, params }: Matched, principal: Principal, status: number): void {
    if (route.method === 'GET') return;
    this.options.audit({
      at: this.now(),
      principal,
      method: route.method,
      path: route.path,
      params,
      status,
    });
  }
}
