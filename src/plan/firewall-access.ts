// Which service ports on which node may be opened from where, resolved from the grants to
// concrete nodes and CIDRs. Both the nftables ruleset and the Tailscale policy render it.
import type { Stack } from '../spec/schema.ts';
import { groupBy } from './group-by.ts';
import type { Instance } from './placement.ts';
import type { Reachability, Source } from './reachability.ts';
import { releaseSlotPorts } from './release-slots.ts';

/** A source that is a set of nodes in the stack (a CIDR is an outside network). */
type NodeSource = Exclude<Source, { kind: 'cidr' }>;

/** NATS, the bus every agent connects to on the hub node. */
export const BUS_PORT = 4222;

/** Where new nodes reach the hub before they are on the mesh (requests are sealed to the hub). */
export const JOIN_PORT = 4280;

export function gatewayNodes(stack: Stack): string[] {
  return Object.entries(stack.nodes)
    .filter(([, node]) => node.gateway)
    .map(([name]) => name);
}

/** The node the hub and the bus run on: the first gateway, else the first node. */
export function hubNode(stack: Stack): string | undefined {
  return gatewayNodes(stack)[0] ?? Object.keys(stack.nodes)[0];
}

/** One named port of one service, on one node, and who may connect to it. */
export interface ServiceAccess {
  node: string;
  service: string;
  portName: string;
  /** The actual ports of that service's instances on the node (replicas: base, base+1, …). */
  ports: number[];
  /** Other nodes that may connect over the mesh (same-node clients use loopback). */
  peers: string[];
  /** Who put those peers there, for humans: `api`, `gateway`, `node:ops`. */
  peerReasons: string[];
  /** Outside networks that may connect from anywhere (firewall.allow). */
  cidrs: string[];
}

const byNumber = (a: number, b: number) => a - b;

function sourceNodes(
  gateways: string[],
  byService: Map<string, Instance[]>,
  source: NodeSource,
): string[] {
  switch (source.kind) {
    case 'service':
      return (byService.get(source.service) ?? []).map((instance) => instance.node);
    case 'gateway':
      return gateways;
    case 'node':
      return [source.node];
  }
}

function sourceReason(source: NodeSource): string {
  switch (source.kind) {
    case 'service':
      return source.service;
    case 'gateway':
      return 'gateway';
    case 'node':
      return `node:${source.node}`;
  }
}

/**
 * Every (node, service, port) that has at least one allowed client off that node, in node,
 * then service, then port declaration order.
 */
export function serviceAccess(input: {
  stack: Stack;
  instances: readonly Instance[];
  reachability: Reachability;
  /** Only this node's entries (a firewall is rendered per node). */
  node?: string;
}): ServiceAccess[] {
  const { stack, instances, reachability } = input;
  const nodeOrder = Object.keys(stack.nodes);
  // Indexed once: a 2,000-service stack must not scan every instance for every pair.
  const gateways = gatewayNodes(stack);
  const byService = groupBy(instances, (instance) => instance.service);
  const grantsTo = groupBy(reachability.grants, (grant) => grant.to);
  // Instances come in service declaration order, so each node's groups keep that order.
  const byNode = groupBy(
    input.node === undefined
      ? instances
      : instances.filter((instance) => instance.node === input.node),
    (instance) => instance.node,
  );
  const result: ServiceAccess[] = [];
  for (const node of input.node === undefined ? nodeOrder : [input.node]) {
    for (const [service, local] of groupBy(
      byNode.get(node) ?? [],
      (instance) => instance.service,
    )) {
      const declared = stack.services[service]!;
      for (const portName of Object.keys(declared.ports)) {
        const planned = local
          .map((instance) => instance.ports[portName])
          .filter((port) => port !== undefined);
        // A deployed instance listens on a release slot's port; its planned one is redirected.
        const ports = declared.deploy ? [...planned, ...releaseSlotPorts(planned)] : planned;
        const peers = new Set<string>();
        const reasons = new Set<string>();
        const cidrs = new Set<string>();
        for (const grant of grantsTo.get(service) ?? []) {
          if (!grant.ports.includes(portName)) continue;
          if (grant.source.kind === 'cidr') {
            cidrs.add(grant.source.cidr);
            continue;
          }
          const remote = sourceNodes(gateways, byService, grant.source).filter(
            (peer) => peer !== node,
          );
          if (remote.length === 0) continue;
          remote.forEach((peer) => peers.add(peer));
          reasons.add(sourceReason(grant.source));
        }
        if (peers.size === 0 && cidrs.size === 0) continue;
        result.push({
          node,
          service,
          portName,
          ports: [...new Set(ports)].sort(byNumber),
          peers: nodeOrder.filter((peer) => peers.has(peer)),
          peerReasons: [...reasons].sort(),
          cidrs: [...cidrs].sort(),
        });
      }
    }
  }
  return result;
}
