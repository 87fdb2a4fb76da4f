// The gateway's whole Caddy config, computed from the route table. Pure: the agent on the
// gateway node POSTs it to Caddy's `/load`, which swaps it in atomically. Where Caddy's admin
// API listens and where it keeps certificates are that node's own settings: its agent puts
// them into every config it loads, whoever computed the rest.
import { corsHandler } from './caddy-cors.ts';
import type {
  CaddyConfig,
  CaddyHandler,
  CaddyIssuer,
  CaddyRoute,
  JsonValue,
} from './caddy-json.ts';
import { groupBy } from './group-by.ts';
import { compareRoutes, type RouteEntry, type Upstream } from './routes.ts';

export type { CaddyConfig } from './caddy-json.ts';

export interface CaddyOptions {
  /** Where Caddy redirects plain HTTP to HTTPS (and answers ACME HTTP challenges). */
  httpPort: number;
  httpsPort: number;
  acmeEmail?: string;
}

// The hub only lists instances its registry reports healthy; these only bridge the gap
// until its next update. A request keeps trying other upstreams for TRY_DURATION. An
// upstream that failed once is skipped for FAIL_DURATION, kept shorter than TRY_DURATION
// so a lone instance that restarts is waited for instead of refused. No active checks:
// Caddy 2.6 resets their state on every config load.
const TRY_DURATION = '5s';
// Short: Caddy 2.6 abandons a retry that is waiting when a config load arrives, and the
// hub's load removing a crashed upstream lands some 30 ms after the crash.
const TRY_INTERVAL = '20ms';
const FAIL_DURATION = '2s';
// A healthy upstream on the mesh answers a dial in milliseconds; one on a node that just
// vanished never does. Failing the dial fast lets the request be retried elsewhere.
const DIAL_TIMEOUT = '1s';
// A request already sent to an upstream whose connection then fails (the gateway's agent
// cuts connections to a lost node) is retried elsewhere only when that is safe to repeat.
const RETRYABLE_METHODS = ['GET', 'HEAD', 'OPTIONS'];

export function caddyConfig(routes: RouteEntry[], options: CaddyOptions): CaddyConfig {
  // Hosts in order, each with its most specific prefix first and the whole-host route last.
  const byHost = groupBy([...routes].sort(compareRoutes), (route) => route.host);
  const serverRoutes: CaddyRoute[] = [...byHost].map(([host, entries]) => hostRoute(host, entries));
  // Host routes are not terminal, so an unknown host or a path no prefix claims ends here
  // instead of in Caddy's empty 200.
  serverRoutes.push({ handle: [textResponse(404, 'no route')] });

  const config: CaddyConfig = {
    apps: {
      http: {
        http_port: options.httpPort,
        https_port: options.httpsPort,
        servers: { gateway: { listen: [`:${options.httpsPort}`], routes: serverRoutes } },
      },
      tls: { automation: { policies: [] } },
    },
  };
  const hostsBy = (tls: RouteEntry['tls']) =>
    [...byHost].filter(([, entries]) => entries[0]?.tls === tls).map(([host]) => host);
  const internal = hostsBy('internal');
  const acme = hostsBy('acme');
  const policies = config.apps.tls.automation.policies;
  if (internal.length > 0) {
    policies.push({ subjects: internal, issuers: [{ module: 'internal' }] });
    // Caddy would otherwise add its CA to the OS trust store, which needs root and
    // changes what every program on the node trusts.
    config.apps.pki = { certificate_authorities: { local: { install_trust: false } } };
  }
  if (acme.length > 0) {
    // Caddy points its implicit ACME policy's challenges at http_port/https_port; an
    // explicit policy has to say so itself or the solvers would bind 80 and 443.
    const issuer: CaddyIssuer = {
      module: 'acme',
      challenges: {
        http: { alternate_port: options.httpPort },
        'tls-alpn': { alternate_port: options.httpsPort },
      },
    };
    if (options.acmeEmail !== undefined) issuer.email = options.acmeEmail;
    policies.push({ subjects: acme, issuers: [issuer] });
  }
  return config;
}

function hostRoute(host: string, entries: readonly RouteEntry[]): CaddyRoute {
  return {
    match: [{ host: [host] }],
    handle: [{ handler: 'subroute', routes: entries.map(entryRoute) }],
  };
}

function entryRoute(entry: RouteEntry): CaddyRoute {
  const handle: CaddyHandler[] = [];
  if (entry.cors) handle.push(corsHandler(entry.cors));
  if (entry.basic_auth) handle.push(basicAuthHandler(entry.basic_auth));
  if (entry.strip_prefix && entry.path !== undefined) {
    handle.push({ handler: 'rewrite', strip_path_prefix: entry.path });
  }
  handle.push(
    entry.upstreams.length > 0
      ? reverseProxy(entry.upstreams)
      : textResponse(503, `no healthy instance of ${entry.service}`),
  );
  // `/api` and `/api/*`, so the prefix is a whole path segment: `/apix` is not under it.
  return entry.path === undefined
    ? { handle }
    : { match: [{ path: [entry.path, `${entry.path}/*`] }], handle };
}

function basicAuthHandler(auth: NonNullable<RouteEntry['basic_auth']>): CaddyHandler {
  // Caddy 2.6 takes a bcrypt hash as is (what `caddy hash-password` prints); the
  // base64-wrapped form older releases required is still accepted but deprecated.
  // hash_cache remembers successful checks: without it every request of a logged-in
  // browser pays a full bcrypt comparison (about a second of CPU at cost 14).
  const httpBasic: Record<string, JsonValue> = {
    hash: { algorithm: 'bcrypt' },
    hash_cache: {},
    accounts: auth.users.map((user) => ({ username: user.username, password: user.password_hash })),
  };
  if (auth.realm !== undefined) httpBasic['realm'] = auth.realm;
  return { handler: 'authentication', providers: { http_basic: httpBasic } };
}

function reverseProxy(upstreams: readonly Upstream[]): CaddyHandler {
  return {
    handler: 'reverse_proxy',
    upstreams: upstreams.map((upstream) => ({ dial: upstream.dial })),
    load_balancing: {
      selection_policy: { policy: 'round_robin' },
      try_duration: TRY_DURATION,
      try_interval: TRY_INTERVAL,
      retry_match: [{ method: RETRYABLE_METHODS }],
    },
    transport: { protocol: 'http', dial_timeout: DIAL_TIMEOUT },
    health_checks: { passive: { fail_duration: FAIL_DURATION, max_fails: 1 } },
  };
}

function textResponse(status: number, message: string): CaddyHandler {
  return {
    handler: 'static_response',
    status_code: status,
    headers: { 'Content-Type': ['text/plain; charset=utf-8'] },
    body: `${message}\n`,
  };
}
