// Network segments between the native services of one node. Between nodes, each node's
// input firewall admits the nodes reachability allows; on one node every process used to
// reach every service over loopback. Here each native service's processes run in a cgroup
// of their own (cgroup2: flotilla/<stack>/<node>/<service>), and an output chain refuses a
// new connection from one of them to a service port of this node unless the stack grants
// it. Processes outside Flotilla's cgroups (the agent and its health checks, an operator's
// shell) are not matched. The policy travels in the desired state; the agent renders it
// with where cgroup2 is mounted on its machine, which plan cannot know.
//
// Containers: each segment a node's containers use is a Docker bridge of its own, with a
// subnet plan chooses (from the node's container pool, container-pool.ts) and a bridge name derived from stack and
// segment, so the same table can name it. dockerd runs with --iptables=false, so this
// table is what keeps segments apart: nothing is forwarded into a segment's bridge from
// elsewhere, a segment's containers are forwarded (and masqueraded) out only when the
// segment allows egress, and a native service of the node is reached from a container
// through its bridge's gateway, DNAT'd to the service's loopback port, for the ports its
// grants name only.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { formatIPv4, parseCidr } from '../spec/formats.ts';
import { NAME, type Stack } from '../spec/schema.ts';
import { allocateSubnets } from './container-pool.ts';
import type { Instance } from './placement.ts';
import { groupBy } from './group-by.ts';
import { meshInterfaceName } from './mesh-interface.ts';
import { releaseSlotPorts } from './release-slots.ts';
import {
  describeSource,
  segmentAllowsEgress,
  serviceSegments,
  type Reachability,
} from './reachability.ts';

/** The cgroup (under the cgroup2 root) every Flotilla service cgroup lives in. */
export const CGROUP_ROOT = 'flotilla';

/** Where `nft` looks up a cgroupv2 path (it prefixes this directory). */
const NFT_CGROUP_BASE = '/sys/fs/cgroup';

const name = z.string().regex(NAME);
const port = z.number().int().min(1).max(65535);

/** A segment as a Docker bridge on one node. */
export const containerSegmentSchema = z.object({
  segment: name,
  /** A /24 of the node's container pool; its first address is the bridge's (the containers' gateway). */
  subnet: z.string().regex(/^\d+\.\d+\.\d+\.0\/24$/),
  /** Its containers may open connections out of the node (forwarded and masqueraded). */
  egress: z.boolean(),
  /** Local ports of native services its containers reach through the gateway. */
  native: z.array(port),
});
export type ContainerSegment = z.infer<typeof containerSegmentSchema>;

export const localSegmentsSchema = z.object({
  stack: name,
  node: name,
  /** The native services of the node, each with the local ports it may connect to. */
  services: z.array(z.object({ service: name, may: z.union([z.literal('all'), z.array(port)]) })),
  /** Every service port on the node: what a service may reach only when granted. */
  guarded: z.array(port),
  /** The segments this node's containers are in (absent: no containers here). */
  containers: z.array(containerSegmentSchema).optional(),
  /**
   * Deployed native services' planned ports and where their serving release listens
   * (release-variants.ts): a container's DNAT to such a port goes to the release's port.
   */
  redirects: z.array(z.object({ port, to: port })).optional(),
  /** The node's mesh interface: containers reach other nodes' services through it. */
  mesh_interface: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,15}$/)
    .optional(),
});
export type LocalSegments = z.infer<typeof localSegmentsSchema>;

/** The Docker network of a segment on a node: `flotilla-<stack>-<segment>`. */
export function segmentNetwork(stack: string, segment: string): string {
  return `flotilla-${stack}-${segment}`;
}

/** Every segment bridge's name starts so (the node's input firewall matches them all). */
export const SEGMENT_BRIDGE_PREFIX = 'flt-';

/** Its Linux bridge: a name nft can match, within the kernel's 15 characters. */
export function segmentBridge(stack: string, segment: string): string {
  return `${SEGMENT_BRIDGE_PREFIX}${createHash('sha256').update(`${stack}/${segment}`).digest('hex').slice(0, 10)}`;
}

/** The first address of a segment's subnet: the bridge's, the containers' gateway. */
export function segmentGateway(subnet: string): string {
  return formatIPv4(parseCidr(subnet)!.network + 1);
}

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
    // A deployed service's instances listen on its release slots' ports (release-slots.ts).
    const portsOf = (instance: Instance, portNames: readonly string[]) => {
      const planned = portNames
        .map((portName) => instance.ports[portName])
        .filter((number) => number !== undefined);
      return stack.services[instance.service]?.deploy
        ? [...planned, ...releaseSlotPorts(planned)]
        : planned;
    };
    const guarded = [
      ...new Set(
        [...local.values()]
          .flat()
          .flatMap((instance) => portsOf(instance, Object.keys(instance.ports))),
      ),
    ];
    const localPorts = (target: string, portNames: readonly string[], into: Set<number>) => {
      for (const instance of local.get(target) ?? [])
        for (const number of portsOf(instance, portNames)) into.add(number);
    };
    const services = [...local.keys()]
      .filter((service) => stack.services[service]?.run !== undefined)
      .map((service) => {
        const may = new Set<number>();
        const open = (target: string, portNames: readonly string[]) =>
          localPorts(target, portNames, may);
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
    const containers = containerSegments(stack, node, [...local.keys()], (service) => {
      // A container's grants to this node's native services, by local port.
      const native = new Set<number>();
      for (const grant of [
        ...(bySource.get(service) ?? []),
        ...(bySource.get(`node:${node}`) ?? []),
      ])
        if (stack.services[grant.to]?.run !== undefined) localPorts(grant.to, grant.ports, native);
      return native;
    });
    if (containers.length > 0)
      Object.assign(result[node]!, { containers, mesh_interface: meshInterfaceName(stack, node) });
  }
  return result;
}

/** The segments of a node's image services as bridges, each with its subnet and DNAT ports. */
function containerSegments(
  stack: Stack,
  node: string,
  localServices: readonly string[],
  nativePorts: (service: string) => Set<number>,
): ContainerSegment[] {
  const images = localServices.filter((service) => stack.services[service]?.image !== undefined);
  const native = new Map<string, Set<number>>();
  for (const service of images) {
    const segments = serviceSegments(stack, service);
    for (const segment of segments) if (!native.has(segment)) native.set(segment, new Set());
    // A container reaches native services through the gateway of its first segment: the
    // address its extra hosts give their names (container-spec.ts).
    for (const number of nativePorts(service)) native.get(segments[0]!)!.add(number);
  }
  const segments = [...native.keys()].sort();
  const subnets = allocateSubnets(stack, node, segments);
  return segments.map((segment) => ({
    segment,
    subnet: subnets.get(segment)!,
    egress: segmentAllowsEgress(stack, segment),
    native: [...native.get(segment)!].sort(byNumber),
  }));
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
    '# Containers: one bridge per segment; nothing is forwarded between them, out only with egress.',
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    '\tchain output {',
    '\t\ttype filter hook output priority filter; policy accept;',
    ...rules.map((rule) => `\t\t${rule}`),
    '\t}',
    ...containerChains(
      segments.stack,
      segments.containers ?? [],
      segments.mesh_interface,
      segments.redirects ?? [],
    ),
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

function chain(name: string, hook: string, rules: readonly string[]): string[] {
  return [`\tchain ${name} {`, `\t\t${hook}`, ...rules.map((rule) => `\t\t${rule}`), '\t}'];
}

/** The chains that keep a node's container segments apart and give them what they may reach. */
function containerChains(
  stack: string,
  containers: readonly ContainerSegment[],
  mesh: string | undefined,
  redirects: readonly { port: number; to: number }[],
): string[] {
  if (containers.length === 0) return [];
  const bridge = (segment: ContainerSegment) => `"${segmentBridge(stack, segment.segment)}"`;
  const all = `{ ${containers.map(bridge).join(', ')} }`;
  const moved = new Map(redirects.map(({ port, to }) => [port, to]));
  const dnat = containers
    .filter((segment) => segment.native.length > 0)
    .flatMap((segment) => {
      const to = `iifname ${bridge(segment)} ip daddr ${segmentGateway(segment.subnet)} meta l4proto { tcp, udp } th dport`;
      // A deployed service listens on its release's port: the first DNAT that matches wins.
      return [
        ...segment.native
          .filter((port) => moved.has(port))
          .map(
            (port) =>
              `${to} ${port} dnat ip to 127.0.0.1:${moved.get(port)} comment "${segment.segment}: a deployed native service"`,
          ),
        `${to} ${nftSet(segment.native)} dnat ip to 127.0.0.1 comment "${segment.segment}: native services it may reach"`,
      ];
    });
  const egress = containers.filter((segment) => segment.egress);
  return [
    // route_localnet on these bridges (set by the agent) lets a DNAT'd packet reach 127.0.0.1.
    ...chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', dnat),
    ...chain('input', 'type filter hook input priority filter; policy accept;', [
      `iifname ${all} ip daddr 127.0.0.0/8 ct status & dnat == 0 drop comment "to loopback only through the DNAT above"`,
    ]),
    ...chain('forward', 'type filter hook forward priority filter; policy accept;', [
      'ct state established,related accept',
      // Seen only where br_netfilter passes bridged frames through here: one segment's own.
      ...containers.map(
        (segment) => `iifname ${bridge(segment)} oifname ${bridge(segment)} accept`,
      ),
      `oifname ${all} reject comment "into a segment from another, or from outside the node"`,
      ...(mesh === undefined
        ? []
        : [
            // Every segment reaches other nodes' services (published on their mesh addresses),
            // masqueraded below; their input firewalls decide. Forwarding turned on for
            // egress must not route anything else into or out of the mesh.
            `iifname ${all} oifname "${mesh}" accept comment "to other nodes over the mesh"`,
            `oifname "${mesh}" drop comment "into the mesh only from this node's containers"`,
            `iifname "${mesh}" drop comment "out of the mesh only to this node"`,
          ]),
      ...egress.map(
        (segment) => `iifname ${bridge(segment)} accept comment "${segment.segment}: egress"`,
      ),
      `iifname ${all} reject comment "out of a segment without egress"`,
    ]),
    ...chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', [
      ...(mesh === undefined
        ? []
        : [
            `ip saddr { ${containers.map((segment) => segment.subnet).join(', ')} } oifname "${mesh}" masquerade comment "to other nodes: as this node's mesh address"`,
          ]),
      ...egress.map(
        (segment) =>
          `ip saddr ${segment.subnet} oifname != ${bridge(segment)} masquerade comment "${segment.segment}: egress"`,
      ),
    ]),
  ];
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
      `containers on one node (${containers.map(([name]) => name).join(', ')}): one Docker bridge per segment, nothing forwarded between segments, egress only from egress segments, native services only on granted ports (needs root and nftables)`,
    );
  return notes;
}
