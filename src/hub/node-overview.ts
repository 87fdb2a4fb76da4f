// Each node as an overview shows it: up or not (as the status report says), its agent's last
// host metrics (CPU, memory, disk, load) and its monthly cost from the stack file. For the
// dashboard's overview and `GET /api/v1/nodes/overview`.
import { z } from 'zod';
import { monthlyCost } from '../plan/cost.ts';
import { hostMetricsSchema } from '../protocol/node-metrics.ts';
import type { Hub } from './hub.ts';
import { statusReport } from './status-report.ts';

export const nodeOverviewSchema = z.object({
  node: z.string(),
  up: z.boolean(),
  reported_at: z.number().nullable(),
  /** Absent until the node's agent has reported its metrics once. */
  host: hostMetricsSchema.optional(),
  cost: z.object({ monthly: z.number(), currency: z.string() }).nullable(),
});
export type NodeOverview = z.infer<typeof nodeOverviewSchema>;

export function nodeOverview(hub: Hub, now = Date.now()): NodeOverview[] {
  const status = statusReport(hub, now);
  if (!status || !hub.stack) return [];
  const costs = monthlyCost(hub.stack).nodes;
  const metrics = hub.nodeMetrics();
  return Object.entries(status.nodes).map(([node, state]) => {
    const host = metrics.get(node)?.host;
    return { node, ...state, ...(host && { host }), cost: costs[node] ?? null };
  });
}
