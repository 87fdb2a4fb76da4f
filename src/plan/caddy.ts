// The gateway's whole Caddy config, computed from the route table. Pure: the agent on the
// gateway node POSTs it to Caddy's `/load`, which swaps it in atomically. Where Caddy's admin
// API listens and where it keeps certificates are that node's own settings: its agent puts
// them into every config it loads, whoever computed the rest.
//
// Which instances serve a route is not in the config: every load of Caddy 2.6 abandons
// requests waiting to retry (502) and closes idle keep-alive connections, and health changes
// many times a minute. Each route's reverse_proxy looks its instances up by DNS (dynamic
// upstreams, an SRV name per service port) at the gateway agent's own responder, which
// answers the healthy ones (upstreamSets). The config changes only with routes and TLS, and
// when a route has no healthy instance left (it answers 503 itself) or gets one back.
import { httpsOrigin } from './https-origin.ts';
import { z } from 'zod';
import type { Stack } from '../spec/schema.ts';
import { corsHandler } from './caddy-cors.ts';
import type {
  CaddyConfig,
  CaddyHandler,
  CaddyIssuer,
  CaddyRoute,
  JsonValue,
} from './caddy-json.ts';
import { groupBy } from './group-by.ts';
import { compareRoutes, withHealthyUpstreams, type RouteEntry, type Upstream } from './routes.ts';

export type { CaddyConfig } from './caddy-json.ts';

/**
 * Where the gateway's agent answers for the upstreams: its own, filled in by localizeGateway.
 * This stand-in is valid for `caddy validate` and never served.
 */
export const PLACEHOLDER_RESOLVER = 'udp/127.0.0.1:53';

/** The SRV name a route's instances are looked up by: one per service port. */
export function upstreamName(route: Pick<RouteEntry, 'service' | 'port'>): string {
  return `${route.port}.${route.service}.route.flotilla.`;
}

/** What the gateway's DNS responder answers: each SRV name's dials, in order. */
export function upstreamSets(routes: readonly RouteEntry[]): Record<string, string[]> {
  const sets: Record<string, string[]> = {};
  for (const route of routes)
    sets[upstreamName(route)] = route.upstreams.map((upstream) => upstream.dial);
  return sets;
}

/**
 * What a gateway serves, from every placed route and who is healthy: the config changes only
 * when routes do, or when a route's last healthy instance goes (or the first comes back), as
 * it then answers 503 itself; the healthy instances go in the sets.
 */
export function gatewayState(
  routes: readonly RouteEntry[],
  healthy: (upstream: Upstream) => boolean,
  options: CaddyOptions,
): { config: CaddyConfig; upstreams: Record<string, string[]> } {
  const live = withHealthyUpstreams(routes, healthy);
  const served = routes.map((route, index) =>
    live[index]!.upstreams.length > 0 ? route : live[index]!,
  );
  return { config: caddyConfig(served, options), upstreams: upstreamSets(live) };
}

export interface CaddyOptions {
  /** Where Caddy redirects plain HTTP to HTTPS (and answers ACME HTTP challenges). */
  httpPort: number;
  httpsPort: number;
  acmeEmail?: string;
  /**
   * Log every request for the per-route metrics (withAccessLog). Off by default: on Caddy 2.6
   * an access log line per request costs about a third of a trivial app's throughput.
   */
  routeMetrics?: boolean;
}

/** The gateway options a stack file sets: plan and the hub build every gateway's config with them. */
export function caddyOptions(stack: Stack): CaddyOptions {
  return {
    httpPort: stack.gateway.http_port,
    httpsPort: stack.gateway.https_port,
    ...(stack.gateway.acme_email === undefined ? {} : { acmeEmail: stack.gateway.acme_email }),
    ...(stack.monitoring.route_metrics ? { routeMetrics: true } : {}),
  };
}

// The responder only lists instances the hub reports healthy; retries only bridge the gap
// until its next update. A request keeps trying other upstreams for TRY_DURATION, every
// TRY_INTERVAL (short: a dial the crashed instance refuses is retried on another at once).
// No active checks (the hub's registry is the health check). Passive ones keep little of
// a dynamic upstream's state in Caddy 2.6; they serve the static fallback (reverseProxy).
const TRY_DURATION = '5s';
const TRY_INTERVAL = '20ms';
const FAIL_DURATION = '2s';
// How stale Caddy's copy of a route's set may be: a crashed instance leaves rotation within
// this of the hub's update. A lookup is one loopback datagram.
const REFRESH = '100ms';
// Below the 5 s after which Node's http server closes an idle connection: Caddy would
// otherwise reuse one the instance is closing that instant, and the request fails.
const IDLE_TIMEOUT = '4s';
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
  if (options.routeMetrics) {
    config.apps.http.servers['gateway']!.logs = { default_logger_name: ACCESS_LOGGER };
    config.logging = accessLogging({ output: 'discard' });
  }
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
  if (entry.allow) handle.push(allowOnly(entry.allow));
  if (entry.cors) handle.push(corsHandler(entry.cors));
  if (entry.basic_auth) handle.push(basicAuthHandler(entry.basic_auth));
  if (entry.strip_prefix && entry.path !== undefined) {
    handle.push({ handler: 'rewrite', strip_path_prefix: entry.path });
  }
  handle.push(
    entry.upstreams.length > 0
      ? reverseProxy(entry)
      : textResponse(503, `no healthy instance of ${entry.service}`),
  );
  // `/api` and `/api/*`, so the prefix is a whole path segment: `/apix` is not under it.
  return entry.path === undefined
    ? { handle }
    : { match: [{ path: [entry.path, `${entry.path}/*`] }], handle };
}

/**
 * Refuses clients outside `ranges` before anything else runs (basic auth included). The
 * subroute's 403 ends the chain; a client inside falls through to the next handler.
 */
function allowOnly(ranges: readonly string[]): CaddyHandler {
  return {
    handler: 'subroute',
    routes: [
      {
        match: [{ not: [{ remote_ip: { ranges: [...ranges] } }] }],
        handle: [textResponse(403, 'this address may not reach this site')],
      },
    ],
  };
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

/**
 * Which of `route.upstreams` serve comes from the responder. Caddy falls back to all of them
 * (its passive checks and retries skipping the dead) when a lookup fails, as it does while the
 * gateway node's agent is down: the gateway keeps serving without it, as before.
 */
function reverseProxy(route: RouteEntry): CaddyHandler {
  const resolver = { addresses: [PLACEHOLDER_RESOLVER] };
  return {
    handler: 'reverse_proxy',
    dynamic_upstreams: {
      source: 'srv',
      name: upstreamName(route),
      refresh: REFRESH,
      resolver,
      dial_timeout: DIAL_TIMEOUT,
    },
    upstreams: route.fallback.map((dial) => ({ dial })),
    load_balancing: {
      selection_policy: { policy: 'round_robin' },
      try_duration: TRY_DURATION,
      try_interval: TRY_INTERVAL,
      retry_match: [{ method: RETRYABLE_METHODS }],
    },
    // The SRV targets are names the responder resolves too: the transport must ask it.
    transport: {
      protocol: 'http',
      dial_timeout: DIAL_TIMEOUT,
      resolver,
      keep_alive: { idle_timeout: IDLE_TIMEOUT },
    },
    health_checks: { passive: { fail_duration: FAIL_DURATION, max_fails: 1 } },
  };
}

/** `config` (from the hub) with this node's responder as every reverse_proxy's resolver. */
export function localizeGateway(config: unknown, resolver: string): unknown {
  const addresses = { addresses: [resolver] };
  const visit = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(visit);
    if (!isObject(value)) return value;
    const result = Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, visit(item)]),
    );
    const { dynamic_upstreams: dynamic, transport } = result;
    if (result['handler'] === 'reverse_proxy' && isObject(dynamic)) {
      result['dynamic_upstreams'] = { ...dynamic, resolver: addresses };
      if (isObject(transport)) result['transport'] = { ...transport, resolver: addresses };
    }
    return result;
  };
  return visit(config);
}

/** The logger the gateway server's access log goes to (Caddy names it http.log.access.<name>). */
const ACCESS_LOGGER = 'flotilla';
const ACCESS_LOG = `http.log.access.${ACCESS_LOGGER}`;
const DROP = { filter: 'delete' };

/**
 * The access log of the gateway server, as JSON lines to `writer`. Only host, path, status and
 * duration leave Caddy: the query (tokens in heartbeat ping URLs), headers, addresses and TLS
 * details are cut by its filter encoder. The hub's config discards the lines; the gateway's
 * agent points them at its socket (withAccessLog), so an agent that does not listen loses
 * nothing but the metrics.
 */
function accessLogging(writer: Record<string, JsonValue>): NonNullable<CaddyConfig['logging']> {
  // Empty keys leave level, time, logger name and message out: a line is ~90 bytes.
  const unnamed = { message_key: '', level_key: '', time_key: '', name_key: '' };
  return {
    logs: {
      default: { exclude: [ACCESS_LOG] },
      [ACCESS_LOGGER]: {
        include: [ACCESS_LOG],
        writer,
        encoder: {
          format: 'filter',
          wrap: { format: 'json', ...unnamed },
          fields: {
            'request>uri': { filter: 'regexp', regexp: '\\?.*', value: '' },
            'request>remote_ip': DROP,
            'request>remote_port': DROP,
            'request>proto': DROP,
            'request>method': DROP,
            'request>headers': DROP,
            'request>tls': DROP,
            resp_headers: DROP,
            user_id: DROP,
            size: DROP,
          },
        },
      },
    },
  };
}

/**
 * `config` with its access log (when the hub turned route metrics on) written to `socket`,
 * where the agent counts requests per route (agent/gateway/route-traffic.ts). Caddy 2.6's own
 * metrics have no host label. Derived from the config alone, so it adds no reload. Caddy 2.6
 * refuses a config whose socket nobody listens on.
 */
export function withAccessLog(config: unknown, socket: string): unknown {
  if (!hasAccessLog(config)) return config;
  return { ...config, logging: accessLogging({ output: 'net', address: `unix/${socket}` }) };
}

/** Whether the hub turned the access log (route metrics) on in `config`. */
export function hasAccessLog(config: unknown): config is Record<string, unknown> {
  if (!isObject(config) || !isObject(config['logging'])) return false;
  const logs = config['logging']['logs'];
  return isObject(logs) && ACCESS_LOGGER in logs;
}

/** A route as a config serves it: its host, path prefix and the URL `flotilla status` shows. */
export interface ServedRoute {
  host: string;
  path?: string;
  url: string;
}

const servedConfigSchema = z.object({
  apps: z.object({
    http: z.object({
      https_port: z.number(),
      servers: z.record(
        z.string(),
        z.object({
          routes: z
            .array(
              z.object({
                match: z.array(z.object({ host: z.array(z.string()).optional() })).optional(),
                handle: z.array(
                  z.object({
                    routes: z
                      .array(
                        z.object({
                          match: z
                            .array(z.object({ path: z.array(z.string()).optional() }))
                            .optional(),
                        }),
                      )
                      .optional(),
                  }),
                ),
              }),
            )
            .default([]),
        }),
      ),
    }),
  }),
});

/**
 * The routes `config` (caddyConfig's, from the hub) serves, read back from its host routes and
 * their subroutes' path matchers; none when it is not such a config.
 */
export function servedRoutes(config: unknown): ServedRoute[] {
  const parsed = servedConfigSchema.safeParse(config);
  if (!parsed.success) return [];
  const { https_port: httpsPort, servers } = parsed.data.apps.http;
  return Object.values(servers).flatMap((server) =>
    server.routes.flatMap((route) => {
      const host = route.match?.[0]?.host?.[0];
      if (host === undefined) return [];
      return (route.handle[0]?.routes ?? []).map((entry) => {
        const path = entry.match?.[0]?.path?.[0];
        return {
          host,
          ...(path === undefined ? {} : { path }),
          url: `${httpsOrigin(host, httpsPort)}${path ?? '/'}`,
        };
      });
    }),
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function textResponse(status: number, message: string): CaddyHandler {
  return {
    handler: 'static_response',
    status_code: status,
    headers: { 'Content-Type': ['text/plain; charset=utf-8'] },
    body: `${message}\n`,
  };
}
