// CORS for one route, done at the gateway so every service gets the same, tested answer.
import { parseDuration } from '../spec/formats.ts';
import type { CaddyHandler, CaddyRoute } from './caddy-json.ts';
import type { RouteEntry } from './routes.ts';

export type Cors = NonNullable<RouteEntry['cors']>;

/**
 * A subroute that decorates the response with CORS headers, then answers a preflight
 * itself (before any authentication: browsers never send credentials on a preflight) or
 * lets the request continue to the next handler.
 */
export function corsHandler(cors: Cors): CaddyHandler {
  const wildcard = cors.origins.includes('*');
  const allow: Record<string, string[]> = {
    'Access-Control-Allow-Origin': [wildcard ? '*' : '{http.request.header.Origin}'],
  };
  if (cors.credentials) allow['Access-Control-Allow-Credentials'] = ['true'];
  const routes: CaddyRoute[] = [];
  if (wildcard) {
    routes.push({ handle: [responseHeaders({ set: allow })] });
  } else {
    const allowedOrigin = { header: { Origin: [...cors.origins] } };
    // Caches must key on Origin whether or not this one is allowed.
    const vary = { Vary: ['Origin'] };
    routes.push(
      { match: [allowedOrigin], handle: [responseHeaders({ set: allow, add: vary })] },
      // The stack file owns CORS: a backend's own headers must not admit another origin.
      {
        match: [{ not: [allowedOrigin] }],
        handle: [responseHeaders({ delete: Object.keys(allow), add: vary })],
      },
    );
  }
  routes.push({
    match: [{ method: ['OPTIONS'], header: { 'Access-Control-Request-Method': [] } }],
    handle: [{ handler: 'static_response', status_code: 204, headers: preflightHeaders(cors) }],
  });
  return { handler: 'subroute', routes };
}

function preflightHeaders(cors: Cors): Record<string, string[]> {
  const headers: Record<string, string[]> = {
    'Access-Control-Allow-Methods': [cors.methods.join(', ')],
    'Access-Control-Allow-Headers': [cors.headers.join(', ')],
  };
  const maxAgeMs = cors.max_age === undefined ? undefined : parseDuration(cors.max_age);
  if (maxAgeMs !== undefined) {
    headers['Access-Control-Max-Age'] = [String(Math.round(maxAgeMs / 1000))];
  }
  return headers;
}

/** Deferred, so it applies to the backend's headers: replacing them, not sent beside them. */
function responseHeaders(ops: {
  set?: Record<string, string[]>;
  add?: Record<string, string[]>;
  delete?: string[];
}): CaddyHandler {
  return { handler: 'headers', response: { ...ops, deferred: true } };
}
