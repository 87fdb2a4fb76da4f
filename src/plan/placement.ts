// Where each instance runs and on which ports. Replicas go round-robin over the eligible
// nodes in declaration order, so adding a service never moves an existing one; replicas
// that share a node get consecutive ports (base, base+1, …).
import type { Service, Stack } from '../spec/schema.ts';

export interface Instance {
  /** `api-1`, `api-2`, … stable across plans. */
  id: string;
  service: string;
  /** 1-based replica number. */
  index: number;
  node: string;
  ports: Record<string, number>;
}

/** Nodes a service may run on; empty when its placement matches nothing. */
export function eligibleNodes(stack: Stack, service: Service): string[] {
  const nodes = Object.keys(stack.nodes);
  if (service.node !== undefined) return nodes.filter((node) => node === service.node);
  const labels = service.labels;
  if (labels !== undefined) {
    return nodes.filter((node) =>
      labels.every((label) => stack.nodes[node]?.labels.includes(label)),
    );
  }
  return nodes;
}

export function placeInstances(stack: Stack): Instance[] {
  const instances: Instance[] = [];
  for (const [name, service] of Object.entries(stack.services)) {
    const nodes = eligibleNodes(stack, service);
    const perNode = new Map<string, number>();
    for (let index = 1; index <= service.replicas && nodes.length > 0; index++) {
      const node = nodes[(index - 1) % nodes.length]!;
      const offset = perNode.get(node) ?? 0;
      perNode.set(node, offset + 1);
      const ports = Object.fromEntries(
        Object.entries(service.ports).map(([portName, base]) => [portName, base + offset]),
      );
      instances.push({ id: `${name}-${index}`, service: name, index, node, ports });
    }
  }
  return instances;
}

/** The port a reference without a name means: the first declared port. */
export function defaultPortName(service: Service): string | undefined {
  return Object.keys(service.ports)[0];
}
