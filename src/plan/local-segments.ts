// Network segments between the native services of one node. Between nodes, each node's
// input firewall admits the nodes reachability allows; on one node every process used to
// reach every service over loopback. Here each native service's processes run in a cgroup
// of their own (cgroup2: flotilla/<stack>/<node>/<service>), and an output chain refuses a
// new connection from one of them to a service port of this node unless the stack grants
// it. Processes outside Flotilla's cgroups (the agent and its health checks, an operator's
// shell) are not matched. The policy travels in the desired state; the agent renders it
// with where cgroup2 is mounted on its machine, which plan cannot know.
import path from 'node:path';
import { z } from 'zod';
import { NAME, type Stack } from '../spec/schema.ts';
import type { Instance } from './placement.ts';
import { groupBy } from './group-by.ts';
import { describeSource, type Reachability } from './reachability.ts';

/** The cgroup (under the cgroup2 root) every Flotilla service cgroup lives in. */
export const CGROUP_ROOT = 'flotilla';

/** Where `nft` looks up a cgroupv2 path (it prefixes this directory). */
const NFT_CGROUP_BASE = '/sys/fs/cgroup';

const name = z.string().regex(NAME);
const port = z.number().int().min(1).max(65535);

export const localSegmentsSchema = z.object({
  stack: name,
  node: name,
  /** The native services of the node, each with the local ports it may connect to. */
  services: z.array(z.object({ service: name, may: z.union([z.literal('all'), z.array(port)]) })),
  /** Every service port on the node: what a service may reach only when granted. */
  guarded: z.array(port),
});
export type LocalSegments = z.infer<typeof localSegmentsSchema>;

/** `flotilla/<stack>/<node>`: the cgroup holding a node's service cgroups. */
export function nodeCgroup(stack: string, node: string): string {
  return `${CGROUP_ROOT}/${stack}/${node}`;
}

/** `flotilla/<stack>/<node>/<service>`: where the service's processes run on that node. */
export function serviceCgroup(stack: string, node: string, service: string): string {
  return `${nodeCgroup(stack, node)}/${service}`;
}

/** A cgroup path as the desired state carries it: `flotilla` and three names, nothing to escape with. */
export const serviceCgroupSchema = z
  .string()
  .regex(new RegExp(`^${CGROUP_ROOT}(/${NAME.source.slice(1, -1)}){3}$`));

/** The nft table of a stack's local segments: one per stack, apart from the input firewall. */
export function localSegmentsTable(stack: string): string {
  return `flotilla-local-${stack}`;
}

const byNumber = (a: number, b: number) => a - b;

/** Every node's segment policy: which local ports each native service there may connect to. */
export function localSegments(
  stack: Stack,
  instances: readonly Instance[],
  reachability: Reachability,
): Record<string, LocalSegments> {
  // Indexed once: a 2,000-service stack must not scan every grant for every pair.
  const byNode = groupBy(instances, (instance) => instance.node);
  const bySource = groupBy(reachability.grants, (grant) => describeSource(grant.source));
  const result: Record<string, LocalSegments> = {};
  for (const node of Object.keys(stack.nodes)) {
    const local = groupBy(byNode.get(node) ?? [], (instance) => instance.service);
    const guarded = [
      ...new Set([...local.values()].flat().flatMap((instance) => Object.values(instance.ports))),
    ];
    const services = [...local.keys()]
      .filter((service) => stack.services[service]?.run !== undefined)
      .map((service) => {
        const may = new Set<number>();
        const open = (target: string, portNames: readonly string[]) => {
          for (const instance of local.get(target) ?? [])
            for (const portName of portNames) {
              const number = instance.ports[portName];
              if (number !== undefined) may.add(number);
            }
        };
        // A service always reaches its own ports (its replicas, its own tools); a grant
        // from it lets its processes in, and one from this node every service's.
        open(service, Object.keys(stack.services[service]!.ports));
        for (const grant of bySource.get(service) ?? []) open(grant.to, grant.ports);
        for (const grant of bySource.get(`node:${node}`) ?? []) open(grant.to, grant.ports);
        return {
          service,
          may:
            guarded.length > 0 && may.size === guarded.length
              ? ('all' as const)
              : [...may].sort(byNumber),
        };
      });
    result[node] = { stack: stack.name, node, services, guarded: guarded.sort(byNumber) };
  }
  return result;
}

function nftSet(values: readonly number[]): string {
  return values.length === 1 ? String(values[0]) : `{ ${values.join(', ')} }`;
}

/**
 * The `nft -f` script that replaces the stack's local-segment table. `cgroup2Mount` is where
 * this machine mounts cgroup2 (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a cgroup v1
 * hybrid); nft resolves each cgroup path to its id when the script is loaded, so the cgroups
 * must exist by then, and a cgroup made again later needs the script loaded again.
 */
export function localSegmentsRuleset(
  segments: LocalSegments,
  cgroup2Mount = NFT_CGROUP_BASE,
): string {
  const table = localSegmentsTable(segments.stack);
  const base = path.posix.relative(NFT_CGROUP_BASE, cgroup2Mount);
  // Levels count from the cgroup2 root: flotilla is 1, a service cgroup 4.
  const match = (cgroup: string) =>
    `socket cgroupv2 level ${cgroup.split('/').length} "${path.posix.join(base, cgroup)}"`;
  const rules: string[] = [];
  if (segments.guarded.length > 0 && segments.services.length > 0) {
    rules.push(
      'oif != "lo" accept comment "to other nodes: their input firewalls decide"',
      'ct state != new accept',
      'meta l4proto != { tcp, udp } accept',
      `th dport != ${nftSet(segments.guarded)} accept comment "not a service port of this node"`,
    );
    for (const { service, may } of segments.services) {
      const from = match(serviceCgroup(segments.stack, segments.node, service));
      if (may === 'all') {
        rules.push(`${from} accept comment "${service}: every service port here is granted"`);
        continue;
      }
      if (may.length > 0)
        rules.push(`${from} th dport ${nftSet(may)} accept comment "${service}: granted"`);
      rules.push(`${from} reject comment "${service}: not granted"`);
    }
    // A service cgroup this script does not know (made again after it was loaded, another
    // stack's) gets no service port either: closed until the agent loads the script again.
    rules.push(`${match(CGROUP_ROOT)} reject comment "a Flotilla process of no known service"`);
  }
  const lines = [
    `# Flotilla segments between the native services of node "${segments.node}" in stack "${segments.stack}". Generated by plan; do not edit.`,
    `# A service's processes run in cgroup ${serviceCgroup(segments.stack, segments.node, '<service>')};`,
    '# a new connection from one of them to a service port of this node is refused unless granted.',
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    '\tchain output {',
    '\t\ttype filter hook output priority filter; policy accept;',
    ...rules.map((rule) => `\t\t${rule}`),
    '\t}',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

/** What enforces reachability and where it stops, said plainly for `plan`. */
export function segmentEnforcement(stack: Stack): string[] {
  const native = Object.entries(stack.services).filter(([, service]) => service.run);
  const asRoot = native.filter(([, service]) =>
    [undefined, 'root', '0'].includes(service.run?.user?.split(':')[0]),
  );
  const containers = Object.entries(stack.services).filter(([, service]) => service.image);
  const notes = [
    'between nodes: each node admits only the nodes granted (per node: every process on a granted node)',
    'on one node: each native service runs in its own cgroup and may open only the service ports granted to it (needs root and cgroup2 on the node)',
    'not covered: unix sockets, and processes outside services (the agent, its health checks, a shell)',
  ];
  if (asRoot.length > 0)
    notes.push(
      `not enforced for services running as root, which can leave their cgroup: ${asRoot.map(([name]) => name).join(', ')} (set run.user)`,
    );
  if (containers.length > 0)
    notes.push(
      `not enforced on one node for containers: ${containers.map(([name]) => name).join(', ')}`,
    );
  return notes;
}
