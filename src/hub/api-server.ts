// The hub's HTTP listeners that speak the API: the loopback one (the CLI, with the state
// dir's token from api.json, or a scoped API token) and the public join listener (whose one
// route authenticates each request itself). A listener only says who calls; ApiHandler does
// the rest (routes, scopes, rate limits, validation, audit).
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { ApiHandler, sendError } from './api/api-handler.ts';
import { ApiError, type Principal, type RouteHandling } from './api/api-route.ts';
import type { ApiTokenStore } from './api/api-tokens.ts';
import { listenHttp, type HttpListener } from './http-listen.ts';

/** Whoever holds the state dir's token: the hub's own CLI. */
export const LOCAL_PRINCIPAL: Principal = { kind: 'local', name: 'local', scope: 'admin' };

export function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.replace(/^Bearer /, '') ?? '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** Who calls, from the Authorization header: the local token, else a scoped API token. */
export function bearerAuthentication(
  localToken: string,
  tokens?: ApiTokenStore,
): (request: http.IncomingMessage) => Promise<Principal | undefined> {
  return async (request) => {
    const header = request.headers.authorization;
    if (tokenMatches(header, localToken)) return LOCAL_PRINCIPAL;
    return header === undefined ? undefined : tokens?.verify(header);
  };
}

export type ApiServer = HttpListener;

export async function startApiServer(options: {
  host: string;
  port: number;
  /** The caller, or undefined to refuse the request (401). */
  authenticate: (request: http.IncomingMessage) => Promise<Principal | undefined>;
  handler: ApiHandler;
}): Promise<ApiServer> {
  const server = http.createServer((request, response) => {
    void (async () => {
      const principal = await options.authenticate(request);
      if (principal === undefined) throw new ApiError(401, 'missing or wrong API token');
      await options.handler.serve(request, response, principal);
    })().catch((error: unknown) => sendError(response, error));
  });
  return listenHttp(server, options.host, options.port);
}

/**
 * Whoever calls the public join port: nobody the listener knows. Its one route proves the
 * caller itself (a sealed request carrying a signed one-time token).
 */
const JOIN_CALLER: Principal = { kind: 'token', name: 'join request', scope: 'read' };

/** The public join listener: one route that authenticates each request itself. */
export function startJoinListener(options: {
  host: string;
  port: number;
  route: RouteHandling;
}): Promise<ApiServer> {
  const route = {
    ...options.route,
    scope: 'read' as const,
    summary: 'A node joins (the sealed body authenticates itself)',
  };
  return startApiServer({
    host: options.host,
    port: options.port,
    authenticate: async () => JOIN_CALLER,
    // A join is audited as the node it adds, not as an API call.
    handler: new ApiHandler([route], { audit: () => undefined }),
  });
}
