// The hub's registry: which instances are healthy, from the agents' status reports. The
// gateway's route table is filtered through it, so Caddy only ever sees healthy upstreams.
import type { NodeStatus } from '../agent/status.ts';
import type { RouteEntry } from '../plan/routes.ts';

/**
 * A node whose last report is older than this is considered down. Agents report twice
 * a second; readers stamp a report with their own clock when it arrives, so clock skew
 * between nodes does not matter.
 */
export const STALE_AFTER_MS = 2_000;

/** Nodes whose last report is stale: lost, as far as routing is concerned. */
export function lostNodes(statuses: Iterable<NodeStatus>, now: number): Set<string> {
  const lost = new Set<string>();
  for (const status of statuses) if (now - status.at > STALE_AFTER_MS) lost.add(status.node);
  return lost;
}

export function healthyInstances(statuses: Iterable<NodeStatus>, now: number): Set<string> {
  const healthy = new Set<string>();
  for (const status of statuses) {
    if (now - status.at > STALE_AFTER_MS) continue;
    for (const instance of status.instances) {
      if (instance.healthy && instance.state === 'running') healthy.add(instance.id);
    }
  }
  return healthy;
}

export function onlyHealthy(
  routes: readonly RouteEntry[],
  healthy: ReadonlySet<string>,
): RouteEntry[] {
  return routes.map((route) => ({
    ...route,
    upstreams: route.upstreams.filter((upstream) => healthy.has(upstream.instance)),
  }));
}
