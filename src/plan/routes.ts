// The gateway's route table: each public host (+ optional path prefix) and the instances
// behind it. The same table feeds plan (every placed instance) and, later, the hub (only
// the instances its registry reports healthy).
import type { Route, Stack } from '../spec/schema.ts';
import { groupBy } from './group-by.ts';
import { defaultPortName, type Instance } from './placement.ts';
import { routedInstances, type StackReleases } from './release-variants.ts';
import { hubNode } from './firewall-access.ts';

export interface Upstream {
  instance: string;
  node: string;
  /** host:port as Caddy dials it from the gateway node. */
  dial: string;
}

export interface RouteEntry {
  host: string;
  /** Path prefix without trailing slash; undefined for the whole host. */
  path?: string;
  service: string;
  port: string;
  strip_prefix: boolean;
  cors?: Route['cors'];
  basic_auth?: Route['basic_auth'];
  /** Client address blocks the gateway lets through (others get 403); all when undefined. */
  allow?: string[];
  /** Names Caddy's internal CA signs (localhost, *.test …) rather than ACME. */
  tls: 'internal' | 'acme';
  upstreams: Upstream[];
  /**
   * What Caddy dials when its upstream lookup fails: the planned instances, whose ports a
   * deployed service's nodes redirect to the serving release (release-variants.ts). Stable
   * across deploys, so a deploy changes no config (no Caddy reload).
   */
  fallback: string[];
  /** Flotilla's own (webhooks, heartbeat pings, the dashboard; served by the hub): up whatever the registry says. */
  builtin?: true;
}

/** Each route with only the upstreams `healthy` admits; a builtin route keeps its own. */
export function withHealthyUpstreams(
  routes: readonly RouteEntry[],
  healthy: (upstream: Upstream) => boolean,
): RouteEntry[] {
  return routes.map((route) =>
    route.builtin ? route : { ...route, upstreams: route.upstreams.filter(healthy) },
  );
}

/** The service names of builtin routes: not valid service names, so never a user's. */
export const WEBHOOKS_SERVICE = 'flotilla_webhooks';
export const PUSH_SERVICE = 'flotilla_pings';
export const DASHBOARD_SERVICE = 'flotilla_dashboard';

/** Heartbeat pings: Healthchecks.io-style and Uptime Kuma's push protocol. */
const PUSH_PATHS = ['/ping', '/api/push'];

/** A route to one of the hub's own listeners: up whatever the registry says. */
function builtinRoute(
  host: string,
  path: string | undefined,
  service: string,
  port: number,
  gatewayNode: string,
): RouteEntry {
  const dial = `127.0.0.1:${port}`;
  return {
    host,
    ...(path !== undefined && { path }),
    service,
    port: 'http',
    strip_prefix: false,
    tls: tlsIssuerFor(host),
    upstreams: [{ instance: service, node: gatewayNode, dial }],
    fallback: [dial],
    builtin: true,
  };
}

const INTERNAL_SUFFIXES = ['.localhost', '.test', '.internal', '.local', '.example', '.invalid'];

export function tlsIssuerFor(host: string): 'internal' | 'acme' {
  return host === 'localhost' || INTERNAL_SUFFIXES.some((suffix) => host.endsWith(suffix))
    ? 'internal'
    : 'acme';
}

export function normalizePath(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? undefined : trimmed;
}

/**
 * Route table as seen from `gatewayNode`: instances on that node are dialled on loopback,
 * others on their node's mesh address. Sorted by compareRoutes.
 */
export function routeTable(
  stack: Stack,
  instances: readonly Instance[],
  meshAddresses: Record<string, string>,
  gatewayNode: string,
  releases?: StackReleases,
): RouteEntry[] {
  const entries: RouteEntry[] = [];
  const byService = groupBy(instances, (instance) => instance.service);
  for (const [name, service] of Object.entries(stack.services)) {
    for (const route of service.routes) {
      const port = route.port ?? defaultPortName(service);
      if (port === undefined) continue; // validate reports a routed service without ports
      const dial = (instance: Instance) =>
        `${instance.node === gatewayNode ? '127.0.0.1' : meshAddresses[instance.node]}:${instance.ports[port]}`;
      const planned = byService.get(name) ?? [];
      const upstreams = routedInstances(planned, releases).map((instance): Upstream => ({
        instance: instance.id,
        node: instance.node,
        dial: dial(instance),
      }));
      const entry: RouteEntry = {
        host: route.host,
        service: name,
        port,
        strip_prefix: route.strip_prefix,
        tls: tlsIssuerFor(route.host),
        upstreams,
        fallback: planned.map(dial),
      };
      const path = normalizePath(route.path);
      if (path !== undefined) entry.path = path;
      if (route.cors) entry.cors = route.cors;
      if (route.basic_auth) entry.basic_auth = route.basic_auth;
      entries.push(entry);
    }
  }
  // Flotilla's own listeners on loopback of the hub node, behind its gateway: push-to-deploy
  // webhooks, heartbeat pings and the dashboard.
  if (gatewayNode === hubNode(stack)) {
    const webhooks = stack.gateway.webhooks;
    if (webhooks)
      entries.push(
        builtinRoute(webhooks.host, '/hooks', WEBHOOKS_SERVICE, webhooks.port, gatewayNode),
      );
    const push = stack.monitoring.push;
    if (push)
      for (const path of PUSH_PATHS)
        entries.push(builtinRoute(push.host, path, PUSH_SERVICE, push.port, gatewayNode));
    const dashboard = stack.dashboard;
    if (dashboard) {
      const entry = builtinRoute(
        dashboard.host,
        undefined,
        DASHBOARD_SERVICE,
        dashboard.port,
        gatewayNode,
      );
      if (dashboard.basic_auth) entry.basic_auth = dashboard.basic_auth;
      if (dashboard.allow) entry.allow = dashboard.allow;
      entries.push(entry);
    }
  }
  return entries.sort(compareRoutes);
}

/** Host, then longest path first (the most specific prefix must match first). */
export function compareRoutes(a: RouteEntry, b: RouteEntry): number {
  return (
    compareText(a.host, b.host) ||
    (b.path?.length ?? 0) - (a.path?.length ?? 0) ||
    compareText(a.path ?? '', b.path ?? '') ||
    compareText(a.service, b.service)
  );
}

// Code-point order, not localeCompare: the output must not depend on the machine's locale.
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
