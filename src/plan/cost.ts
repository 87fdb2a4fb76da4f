// Monthly cost per node and in total, one total per currency (no exchange rates guessed).
import type { Stack } from '../spec/schema.ts';

export interface CostReport {
  nodes: Record<string, { monthly: number; currency: string } | null>;
  total: Record<string, number>;
}

export function monthlyCost(stack: Stack): CostReport {
  const nodes: CostReport['nodes'] = {};
  const total: Record<string, number> = {};
  for (const [name, node] of Object.entries(stack.nodes)) {
    if (node.cost === undefined) {
      nodes[name] = null;
      continue;
    }
    nodes[name] = { monthly: node.cost, currency: node.currency };
    // Sum in cents so 10.50 + 10.50 prints as 21, not 20.999999.
    total[node.currency] = Math.round(((total[node.currency] ?? 0) + node.cost) * 100) / 100;
  }
  return { nodes, total };
}
