// The hub's registry: which instances are healthy, from the agents' reports. The gateway's
// route table is filtered through it, so Caddy only ever sees healthy upstreams, and each
// node's directory (which of its dependencies are healthy somewhere) is derived from it.
import { STALE_AFTER_MS } from '../protocol/liveness.ts';
import type { NodeStatus } from '../protocol/status.ts';
import { withHealthyUpstreams, type RouteEntry } from '../plan/routes.ts';

/** Nodes whose last report is stale: lost, as far as routing is concerned. */
export function lostNodes(statuses: Iterable<NodeStatus>, now: number): Set<string> {
  const lost = new Set<string>();
  for (const status of statuses) if (now - status.at > STALE_AFTER_MS) lost.add(status.node);
  return lost;
}

function* healthyOnLiveNodes(statuses: Iterable<NodeStatus>, now: number) {
  for (const status of statuses) {
    if (now - status.at > STALE_AFTER_MS) continue;
    for (const instance of status.instances)
      if (instance.healthy && instance.state === 'running') yield instance;
  }
}

export function healthyInstances(statuses: Iterable<NodeStatus>, now: number): Set<string> {
  return new Set([...healthyOnLiveNodes(statuses, now)].map((instance) => instance.id));
}

/** Services with at least one healthy instance on a live node. */
export function healthyServices(statuses: Iterable<NodeStatus>, now: number): Set<string> {
  return new Set([...healthyOnLiveNodes(statuses, now)].map((instance) => instance.service));
}

export function onlyHealthy(
  routes: readonly RouteEntry[],
  healthy: ReadonlySet<string>,
): RouteEntry[] {
  return withHealthyUpstreams(routes, (upstream) => healthy.has(upstream.instance));
}
