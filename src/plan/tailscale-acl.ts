// The Tailscale policy for a stack on an existing tailnet: one tag per node, and accept
// rules for exactly the cross-node connections reachability allows, so the tailnet itself
// enforces what each node's firewall enforces. Same-node traffic never crosses the tailnet.
import type { Stack } from '../spec/schema.ts';
import { BUS_PORT, hubNode, serviceAccess } from './firewall-access.ts';
import type { Instance } from './placement.ts';
import type { Reachability } from './reachability.ts';

export interface TailscaleAclRule {
  action: 'accept';
  /** Node tags, or CIDRs (which only match tailnet or subnet-routed addresses). */
  src: string[];
  /** `tag:flotilla-<node>:<port>`. */
  dst: string[];
}

/** Assertions Tailscale checks when the policy is saved; a failing one rejects the save. */
export interface TailscaleTest {
  src: string;
  accept?: string[];
  deny?: string[];
}

export interface TailscalePolicy {
  tagOwners: Record<string, string[]>;
  acls: TailscaleAclRule[];
  tests: TailscaleTest[];
}

export function nodeTag(node: string): string {
  return `tag:flotilla-${node}`;
}

/** `<node>:<port>`; node names hold no colon. */
const destination = (node: string, port: number) => `${node}:${port}`;

export function tailscaleAcl(input: {
  stack: Stack;
  instances: readonly Instance[];
  reachability: Reachability;
}): TailscalePolicy | null {
  const { stack, instances } = input;
  if (stack.mesh.provider !== 'tailscale') return null;
  const nodes = Object.keys(stack.nodes);

  const split = (key: string) => {
    const colon = key.lastIndexOf(':');
    return { node: key.slice(0, colon), port: Number(key.slice(colon + 1)) };
  };
  // Ordered by node declaration, then port, so the output is stable and reads by machine.
  const render = (keys: Iterable<string>): string[] =>
    [...keys]
      .map(split)
      .sort((a, b) => nodes.indexOf(a.node) - nodes.indexOf(b.node) || a.port - b.port)
      .map((dst) => `${nodeTag(dst.node)}:${dst.port}`);

  const granted = new Map<string, Set<string>>(); // src → destinations
  const grant = (src: string, dst: string) =>
    granted.set(src, (granted.get(src) ?? new Set()).add(dst));
  // A CIDR could cover any node's tailnet address, so a deny test there could fail wrongly.
  const openToCidrs = new Set<string>();

  for (const access of serviceAccess(input)) {
    for (const port of access.ports) {
      const dst = destination(access.node, port);
      access.peers.forEach((peer) => grant(nodeTag(peer), dst));
      access.cidrs.forEach((cidr) => grant(cidr, dst));
      if (access.cidrs.length > 0) openToCidrs.add(dst);
    }
  }
  const hub = hubNode(stack);
  for (const node of nodes) {
    if (hub !== undefined && node !== hub) grant(nodeTag(node), destination(hub, BUS_PORT));
  }

  // Sources with the same destinations share one rule.
  const bySameDestinations = new Map<string, { src: string[]; dst: string[] }>();
  for (const [src, keys] of granted) {
    const dst = render(keys);
    const rule = bySameDestinations.get(dst.join(' ')) ?? { src: [], dst };
    rule.src.push(src);
    bySameDestinations.set(dst.join(' '), rule);
  }
  const acls = [...bySameDestinations.values()]
    .map(({ src, dst }): TailscaleAclRule => ({ action: 'accept', src: src.sort(), dst }))
    .sort((a, b) => compareText(a.src.join(' '), b.src.join(' ')));

  // Every service port and the bus: what a node was not granted must be denied, which also
  // catches a broader hand-written rule (like the default allow-all) defeating these.
  const everyPort = new Set(
    instances.flatMap((instance) =>
      Object.values(instance.ports).map((port) => destination(instance.node, port)),
    ),
  );
  if (hub !== undefined) everyPort.add(destination(hub, BUS_PORT));
  const tests = nodes.flatMap((node): TailscaleTest[] => {
    const mine = granted.get(nodeTag(node)) ?? new Set<string>();
    const denied = [...everyPort].filter(
      (dst) => split(dst).node !== node && !mine.has(dst) && !openToCidrs.has(dst),
    );
    const test: TailscaleTest = { src: nodeTag(node) };
    if (mine.size > 0) test.accept = render(mine);
    if (denied.length > 0) test.deny = render(denied);
    return mine.size > 0 || denied.length > 0 ? [test] : [];
  });

  const tagOwners = Object.fromEntries(nodes.map((node) => [nodeTag(node), ['autogroup:admin']]));
  return { tagOwners, acls, tests };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
