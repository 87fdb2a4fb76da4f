// Which service ports on which node may be opened from where, resolved from the grants to
// concrete nodes and CIDRs. Both the nftables ruleset and the Tailscale policy render it.
import type { Stack } from '../spec/schema.ts';
import type { Instance } from './placement.ts';
import type { Reachability, Source } from './reachability.ts';

/** A source that is a set of nodes in the stack (a CIDR is an outside network). */
type NodeSource = Exclude<Source, { kind: 'cidr' }>;

/** NATS, the bus every agent connects to on the hub node. */
export const BUS_PORT = 4222;

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

function sourceNodes(stack: Stack, instances: readonly Instance[], source: NodeSource): string[] {
  switch (source.kind) {
    case 'service':
      return instances
        .filter((instance) => instance.service === source.service)
        .map((instance) => instance.node);
    case 'gateway':
      return gatewayNodes(stack);
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
}): ServiceAccess[] {
  const { stack, instances, reachability } = input;
  const nodeOrder = Object.keys(stack.nodes);
  const result: ServiceAccess[] = [];
  for (const node of nodeOrder) {
    for (const [service, declared] of Object.entries(stack.services)) {
      const local = instances.filter(
        (instance) => instance.service === service && instance.node === node,
      );
      if (local.length === 0) continue;
      for (const portName of Object.keys(declared.ports)) {
        const ports = local
          .map((instance) => instance.ports[portName])
          .filter((port) => port !== undefined);
        const peers = new Set<string>();
        const reasons = new Set<string>();
        const cidrs = new Set<string>();
        for (const grant of reachability.grants) {
          if (grant.to !== service || !grant.ports.includes(portName)) continue;
          if (grant.source.kind === 'cidr') {
            cidrs.add(grant.source.cidr);
            continue;
          }
          const remote = sourceNodes(stack, instances, grant.source).filter(
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
