// What `flotilla status` and `up` show: every desired instance with its live state, every
// route with how many healthy upstreams it has, and whether each gateway serves the routes
// the hub last computed. `ready` is the condition `up --detach` waits for.
import { httpsOrigin } from '../plan/https-origin.ts';
import { STALE_AFTER_MS } from '../protocol/liveness.ts';
import type { InstanceStatus, NodeStatus } from '../protocol/status.ts';
import type { Hub } from './hub.ts';

export interface InstanceReport extends InstanceStatus {
  node: string;
}

export interface StatusReport {
  stack: string;
  nodes: Record<string, { up: boolean; reported_at: number | null }>;
  instances: InstanceReport[];
  routes: { url: string; service: string; healthy: number; total: number }[];
  gateways: Record<string, { in_sync: boolean; error?: string; ca_path?: string }>;
  ready: boolean;
}

export function statusReport(hub: Hub, now = Date.now()): StatusReport | undefined {
  const { stack, plan } = hub;
  if (!stack || !plan) return undefined;
  const statuses = hub.nodeStatuses();
  const nodes: StatusReport['nodes'] = {};
  const instances: InstanceReport[] = [];
  for (const [node, desired] of Object.entries(plan.desired)) {
    const status: NodeStatus | undefined = statuses.get(node);
    const up = status !== undefined && now - status.at <= STALE_AFTER_MS;
    nodes[node] = { up, reported_at: status?.at ?? null };
    for (const instance of desired.instances) {
      const reported = up
        ? status.instances.find((candidate) => candidate.id === instance.id)
        : undefined;
      instances.push(
        reported
          ? { ...reported, node }
          : {
              id: instance.id,
              service: instance.service,
              node,
              state: 'waiting',
              reason: up ? 'not started yet' : `node ${node} is not reporting`,
              healthy: false,
              health_detail: 'unknown',
              healthy_since: 0,
              restarts: 0,
              ports: instance.ports,
              spec_hash: '',
            },
      );
    }
  }
  const gateways: StatusReport['gateways'] = {};
  let routes: StatusReport['routes'] = [];
  for (const [node, spec] of Object.entries(stack.nodes)) {
    if (!spec.gateway) continue;
    const gateway = statuses.get(node)?.gateway;
    gateways[node] = {
      in_sync: gateway?.config_hash !== undefined && gateway.config_hash === hub.gatewayHash(node),
      ...(gateway?.error === undefined ? {} : { error: gateway.error }),
      ...(gateway?.ca_path === undefined ? {} : { ca_path: gateway.ca_path }),
    };
    if (routes.length === 0) {
      const total = new Map(
        plan.routes.map((route) => [`${route.host}${route.path ?? ''}`, route.upstreams.length]),
      );
      routes = hub.liveRoutes(node).map((route) => ({
        url: `${httpsOrigin(route.host, stack.gateway.https_port)}${route.path ?? '/'}`,
        service: route.service,
        healthy: route.upstreams.length,
        total: total.get(`${route.host}${route.path ?? ''}`) ?? 0,
      }));
    }
  }
  const converged = Object.keys(plan.desired).every(
    (node) => (statuses.get(node)?.desired_revision ?? 0) >= hub.desiredRevision(node),
  );
  const ready =
    converged &&
    instances.every((instance) => instance.healthy) &&
    Object.values(gateways).every((gateway) => gateway.in_sync) &&
    routes.every((route) => route.healthy === route.total);
  return { stack: stack.name, nodes, instances, routes, gateways, ready };
}
