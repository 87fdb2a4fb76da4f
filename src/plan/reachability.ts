// Who may connect to whom, derived from network segments, firewall.allow and routes.
// Services sharing a segment reach each other's ports; the gateway reaches routed ports;
// allow rules add nodes, services or outside CIDRs. The firewall and the Tailscale ACL
// are both rendered from this one answer.
import { canonicalCidr } from '../spec/formats.ts';
import type { Stack } from '../spec/schema.ts';
import { defaultPortName } from './placement.ts';

export const DEFAULT_SEGMENT = 'default';

export type Source =
  | { kind: 'service'; service: string }
  | { kind: 'node'; node: string }
  | { kind: 'gateway' }
  | { kind: 'cidr'; cidr: string };

export interface Grant {
  source: Source;
  to: string;
  ports: string[];
  /** Why: the shared segment, `route`, or `allow` (a firewall.allow rule). */
  via: string;
}

export interface Reachability {
  grants: Grant[];
  /** Services that may open connections to the internet (a segment with egress). */
  egress: string[];
}

export function serviceSegments(stack: Stack, service: string): string[] {
  return stack.services[service]?.networks ?? [DEFAULT_SEGMENT];
}

/** A declared segment's `egress`; the implicit default segment has it. */
export function segmentAllowsEgress(stack: Stack, segment: string): boolean {
  const declared = stack.networks[segment];
  return declared === undefined ? segment === DEFAULT_SEGMENT : declared.egress;
}

/** Parses a firewall.allow `from` entry; validate guarantees it is one of these. */
export function classifySource(stack: Stack, entry: string): Source | undefined {
  if (entry.startsWith('node:')) return { kind: 'node', node: entry.slice(5) };
  if (entry.startsWith('service:')) return { kind: 'service', service: entry.slice(8) };
  if (Object.hasOwn(stack.nodes, entry) && !Object.hasOwn(stack.services, entry))
    return { kind: 'node', node: entry };
  if (Object.hasOwn(stack.services, entry) && !Object.hasOwn(stack.nodes, entry))
    return { kind: 'service', service: entry };
  // Rewritten from its parsed value: only a canonical network ever reaches a ruleset.
  const cidr = canonicalCidr(entry.includes('/') ? entry : `${entry}/32`);
  return cidr === undefined ? undefined : { kind: 'cidr', cidr };
}

/** A source as the stack file names it: `api`, `node:ops`, `gateway`, `10.0.0.0/8`. */
export function describeSource(source: Source): string {
  switch (source.kind) {
    case 'service':
      return source.service;
    case 'node':
      return `node:${source.node}`;
    case 'gateway':
      return 'gateway';
    case 'cidr':
      return source.cidr;
  }
}

/** `redis` → all of redis's ports; `redis.main` → that one. */
export function parseAllowTarget(target: string): { service: string; port?: string } {
  const dot = target.indexOf('.');
  return dot < 0
    ? { service: target }
    : { service: target.slice(0, dot), port: target.slice(dot + 1) };
}

export function computeReachability(stack: Stack): Reachability {
  const grants: Grant[] = [];
  const names = Object.keys(stack.services);
  const order = new Map(names.map((name, index) => [name, index]));
  // Members per segment: sources are found through shared segments, not by testing every
  // pair of services (quadratic in a 2,000-service stack).
  const members = new Map<string, string[]>();
  for (const name of names) {
    for (const segment of serviceSegments(stack, name))
      members.set(segment, [...(members.get(segment) ?? []), name]);
  }
  for (const to of names) {
    const ports = Object.keys(stack.services[to]!.ports);
    if (ports.length === 0) continue;
    const shared = new Map<string, string[]>();
    for (const segment of serviceSegments(stack, to)) {
      for (const from of members.get(segment) ?? []) {
        // Replicas of one service talk to each other only when they can be on other nodes.
        if (from === to && stack.services[to]!.replicas < 2) continue;
        shared.set(from, [...(shared.get(from) ?? []), segment]);
      }
    }
    const sources = [...shared].sort(([a], [b]) => order.get(a)! - order.get(b)!);
    for (const [from, segments] of sources) {
      grants.push({
        source: { kind: 'service', service: from },
        to,
        ports,
        via: segments.join(','),
      });
    }
  }
  for (const [name, service] of Object.entries(stack.services)) {
    const routed = [
      ...new Set(service.routes.map((route) => route.port ?? defaultPortName(service))),
    ].filter((port): port is string => port !== undefined);
    if (routed.length > 0)
      grants.push({ source: { kind: 'gateway' }, to: name, ports: routed.sort(), via: 'route' });
  }
  for (const rule of stack.firewall.allow) {
    const target = parseAllowTarget(rule.to);
    const service = Object.hasOwn(stack.services, target.service)
      ? stack.services[target.service]
      : undefined;
    if (!service) continue;
    const ports = target.port === undefined ? Object.keys(service.ports) : [target.port];
    for (const entry of rule.from) {
      const source = classifySource(stack, entry);
      if (source) grants.push({ source, to: target.service, ports, via: 'allow' });
    }
  }
  const egress = names.filter((name) =>
    serviceSegments(stack, name).some((segment) => segmentAllowsEgress(stack, segment)),
  );
  return { grants, egress };
}

/** Service grants by `from\0to`, built once per reachability (a stack without networks has one per pair). */
const grantIndex = new WeakMap<Reachability, Map<string, Grant[]>>();

function grantsBetween(reachability: Reachability, from: string, to: string): Grant[] {
  let index = grantIndex.get(reachability);
  if (index === undefined) {
    index = new Map();
    for (const grant of reachability.grants) {
      if (grant.source.kind !== 'service') continue;
      const key = `${grant.source.service}\0${grant.to}`;
      const between = index.get(key);
      if (between) between.push(grant);
      else index.set(key, [grant]);
    }
    grantIndex.set(reachability, index);
  }
  return index.get(`${from}\0${to}`) ?? [];
}

/** Whether `from` may connect to `to` (on any port, or on `port`). */
export function mayReach(
  reachability: Reachability,
  from: string,
  to: string,
  port?: string,
): boolean {
  return grantsBetween(reachability, from, to).some(
    (grant) => port === undefined || grant.ports.includes(port),
  );
}
