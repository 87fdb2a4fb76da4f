// The nftables ruleset of one node: a single table `inet flotilla` whose input chain drops
// everything except what the stack says may connect. Service ports are open only on the
// mesh interface and only to the mesh addresses of nodes that reachability allows, plus the
// outside CIDRs of firewall.allow; nothing else on the host is touched.
import { canonicalCidr } from '../spec/formats.ts';
import type { Stack } from '../spec/schema.ts';
import {
  BUS_PORT,
  JOIN_PORT,
  hubNode,
  serviceAccess,
  type ServiceAccess,
} from './firewall-access.ts';
import { SEGMENT_BRIDGE_PREFIX } from './local-segments.ts';
import { meshInterfaceName, meshListenPort } from './mesh-interface.ts';
import type { Instance } from './placement.ts';
import type { Reachability } from './reachability.ts';

export interface FirewallInput {
  stack: Stack;
  node: string;
  instances: readonly Instance[];
  meshAddresses: Record<string, string>;
  reachability: Reachability;
  /** This node's serviceAccess entries, when the caller computed them for every node at once. */
  access?: ServiceAccess[];
}

/** One accept rule of the input chain. */
export interface FirewallRule {
  protocol: 'tcp' | 'udp';
  ports: number[];
  /** Only packets arriving on this interface (the mesh); undefined means any interface. */
  iifname?: string;
  /** Source addresses or CIDRs; undefined means from anywhere. */
  from?: string[];
  comment: string;
}

// nft rejects longer comments.
const COMMENT_MAX = 128;

/** The accept rules for `node`, after the fixed state/loopback/ICMP ones, in order. */
export function firewallRules(input: FirewallInput): FirewallRule[] {
  const { stack, node, instances, meshAddresses, reachability } = input;
  const self = stack.nodes[node];
  if (!self) throw new Error(`firewall for unknown node "${node}"`);
  const mesh = meshInterfaceName(stack, node);
  const addressOf = (peer: string): string => {
    const address = meshAddresses[peer];
    if (address === undefined) throw new Error(`node "${peer}" has no mesh address`);
    return address;
  };

  const rules: FirewallRule[] = [{ protocol: 'tcp', ports: [self.ssh.port], comment: 'ssh' }];
  if (self.gateway) {
    const { http_port, https_port } = stack.gateway;
    rules.push(
      { protocol: 'tcp', ports: [http_port, https_port], comment: 'gateway http, https' },
      // Caddy serves HTTP/3 (QUIC) on the https port by default.
      { protocol: 'udp', ports: [https_port], comment: 'gateway http/3' },
    );
  }
  rules.push({
    protocol: 'udp',
    ports: [meshListenPort(stack)],
    comment: `mesh (${stack.mesh.provider})`,
  });

  const others = Object.keys(stack.nodes).filter((peer) => peer !== node);
  if (hubNode(stack) === node && others.length > 0) {
    rules.push({
      protocol: 'tcp',
      ports: [BUS_PORT],
      iifname: mesh,
      from: others.map(addressOf),
      comment: 'bus (nats) from the agents',
    });
    rules.push({
      protocol: 'tcp',
      ports: [JOIN_PORT],
      comment: 'join: new nodes, before they are on the mesh',
    });
    // Prometheus may run on any node; the endpoint also wants its bearer token.
    const metrics = stack.monitoring.metrics;
    if (metrics)
      rules.push({
        protocol: 'tcp',
        ports: [metrics.port],
        iifname: mesh,
        from: others.map(addressOf),
        comment: 'metrics (prometheus) from the mesh',
      });
  }

  for (const access of input.access ?? serviceAccess({ stack, instances, reachability, node })) {
    const what = `${access.service}:${access.portName}`;
    if (access.peers.length > 0) {
      rules.push({
        protocol: 'tcp',
        ports: access.ports,
        iifname: mesh,
        from: access.peers.map(addressOf),
        comment: `${what} from ${access.peerReasons.join(', ')}`,
      });
    }
    if (access.cidrs.length > 0) {
      rules.push({
        protocol: 'tcp',
        ports: access.ports,
        from: access.cidrs,
        comment: `${what} from ${access.cidrs.join(', ')} (allow)`,
      });
    }
  }
  return rules;
}

function nftSet(values: readonly (string | number)[]): string {
  return values.length === 1 ? String(values[0]) : `{ ${values.join(', ')} }`;
}

function nftComment(text: string): string {
  const clipped = text.length > COMMENT_MAX ? `${text.slice(0, COMMENT_MAX - 3)}...` : text;
  return `"${clipped}"`;
}

/**
 * An address or network as it goes into the ruleset: rewritten from its parsed value, and
 * never anything nft could read differently (a leading 0 is octal to it). Validation
 * refuses such input first; reaching this throw is a bug, not a user mistake.
 */
function nftAddress(text: string): string {
  const canonical = canonicalCidr(text);
  if (canonical === undefined)
    throw new Error(`not a canonical IPv4 address or network: "${text}"`);
  return canonical;
}

function renderRule(rule: FirewallRule): string {
  const match = [
    rule.iifname === undefined ? undefined : `iifname "${rule.iifname}"`,
    rule.from === undefined ? undefined : `ip saddr ${nftSet(rule.from.map(nftAddress))}`,
    `${rule.protocol} dport ${nftSet(rule.ports)}`,
  ].filter((part) => part !== undefined);
  return `${match.join(' ')} accept comment ${nftComment(rule.comment)}`;
}

/** Whether the node runs both containers and native services with ports (which they may reach). */
function containersReachNative({ stack, node, instances }: FirewallInput): boolean {
  const here = instances.filter((instance) => instance.node === node);
  const kind = (instance: Instance) => stack.services[instance.service];
  return (
    here.some((instance) => kind(instance)?.image !== undefined) &&
    here.some(
      (instance) => kind(instance)?.run !== undefined && Object.keys(instance.ports).length > 0,
    )
  );
}

/** The nftables script for `node`: `nft -f` it to replace table inet flotilla atomically. */
export function firewallRuleset(input: FirewallInput): string {
  const rules = firewallRules(input);
  const lines = [
    `# Flotilla firewall of node "${input.node}" in stack "${input.stack.name}". Generated by plan; do not edit.`,
    '# Declaring, deleting and redefining the table in one nft transaction replaces it',
    '# atomically, works whether or not it exists, and leaves every other table alone.',
    '# Segments between the services of this node are a table of their own: plan --show segments:<node>.',
    'table inet flotilla {}',
    'delete table inet flotilla',
    'table inet flotilla {',
    '\tchain input {',
    '\t\ttype filter hook input priority filter; policy drop;',
    '\t\tct state established,related accept',
    '\t\tct state invalid drop',
    '\t\tiif lo accept comment "same-node traffic, incl. services on 127.0.0.1"',
    ...(containersReachNative(input)
      ? [
          // The segment table DNATs a container's request for a native service it may reach
          // (its gateway, a granted port) to 127.0.0.1: the packet comes in on its bridge.
          `\t\tiifname "${SEGMENT_BRIDGE_PREFIX}*" ip daddr 127.0.0.0/8 ct status dnat accept comment "a container to a native service of this node"`,
        ]
      : []),
    // An allow rule for a CIDR that covers mesh addresses must not let a packet forged with a
    // mesh source in through the public interface.
    `\t\tiifname != "${meshInterfaceName(input.stack, input.node)}" ip saddr ${nftAddress(input.stack.mesh.cidr)} drop comment "mesh addresses only over the mesh"`,
    '\t\tmeta l4proto { icmp, ipv6-icmp } accept comment "ping, path MTU, IPv6 neighbour discovery"',
    ...rules.map((rule) => `\t\t${renderRule(rule)}`),
    '\t}',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}
