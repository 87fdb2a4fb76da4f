// What each node must run: every instance with its command, environment and health check
// fully resolved, except secrets, which stay as `${secret:NAME}` until the agent that
// runs the service fills them in (so neither plan output nor the bus ever holds a value).
// Strings here are therefore templates: a literal `${` is kept escaped as `$${`.
import path from 'node:path';
import { renderTemplate, type Reference } from '../spec/interpolation.ts';
import { z } from 'zod';
import { parseImageReference } from '../container/engine/image-reference.ts';
import { cidrWithin, parseCidr, parseSize } from '../spec/formats.ts';
import { healthSchema, SIGNALS, type Service, type Stack } from '../spec/schema.ts';
import { groupBy } from './group-by.ts';
import {
  containerSegmentSchema,
  localSegments,
  localSegmentsSchema,
  serviceCgroup,
  serviceCgroupSchema,
} from './local-segments.ts';
import { defaultPortName, type Instance } from './placement.ts';
import { serviceSegments, type Reachability } from './reachability.ts';
import { SHA256_HEX } from '../release/release-record.ts';
import {
  placedVariants,
  portRedirects,
  releaseDir,
  type StackReleases,
} from './release-variants.ts';

/**
 * An image service as its node's container runtime runs it: everything resolved at plan
 * time (bind sources absolute, memory in bytes, the port inside the container per port
 * name), registry credentials left as `${secret:…}` templates like every other secret.
 */
const containerRuntimeSchema = z.object({
  kind: z.literal('container'),
  image: z.string(),
  command: z.array(z.string()).optional(),
  entrypoint: z.array(z.string()).optional(),
  user: z.string().optional(),
  env_files: z.array(z.string()),
  /** `bind`: an absolute host path; `volume`: a named volume (never deleted by Flotilla). */
  mounts: z.array(
    z.object({
      type: z.enum(['bind', 'volume']),
      source: z.string(),
      target: z.string(),
      read_only: z.boolean(),
    }),
  ),
  memory_bytes: z.number().int().positive().optional(),
  cpus: z.number().positive().optional(),
  read_only: z.boolean(),
  cap_drop: z.array(z.string()),
  /** Port name → the port the image listens on inside the container. */
  container_ports: z.record(z.string(), z.number().int().min(1).max(65535)),
  /** The segments it joins, each a Docker network of its node (the first is its gateway). */
  networks: z.array(containerSegmentSchema.omit({ native: true })).min(1),
  // Defaults: an agent newer than its hub still reads the hub's desired state.
  /** Native services of its node it may reach, by name: its extra hosts, at its gateway. */
  native_hosts: z.array(z.string()).default([]),
  /** Services it may reach on other nodes only, by name: extra hosts at their mesh address. */
  remote_hosts: z.record(z.string(), z.string()).default({}),
  /** Its node's mesh address, when other nodes reach it: ports are published there too. */
  publish_address: z.string().optional(),
  /**
   * Port names a firewall.allow range outside the mesh may reach: those clients connect to
   * the node's public address, so these are published on 0.0.0.0 (absent: none).
   */
  public_ports: z.array(z.string()).optional(),
  /** Credentials for the image's registry (`password` a `${secret:…}` template). */
  registry_auth: z
    .object({ server: z.string(), username: z.string(), password: z.string() })
    .optional(),
});
export type ContainerRuntimeSpec = z.infer<typeof containerRuntimeSchema>;

// The schema doubles as the agent's check of what it reads from the bus.
export const desiredInstanceSchema = z.object({
  /** `api-1`; once the service is deployed, its release slot's `api-1a` or `api-1b`. */
  id: z.string().regex(/^[a-z][a-z0-9-]*-\d+[ab]?$/),
  service: z.string(),
  index: z.number().int().min(1),
  node: z.string(),
  runtime: z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal('process'),
      command: z.array(z.string()).min(1),
      cwd: z.string(),
      env_files: z.array(z.string()),
      user: z.string().optional(),
      /** The cgroup (under the cgroup2 root) its processes run in: its local segment. */
      cgroup: serviceCgroupSchema.optional(),
    }),
    containerRuntimeSchema,
  ]),
  env: z.record(z.string(), z.string()),
  ports: z.record(z.string(), z.number().int().min(1).max(65535)),
  /** `${data}`: the service's data directory on its node, created by the agent. */
  data_dir: z.string(),
  health: healthSchema.optional(),
  depends_on: z.array(z.string()),
  restart: z.enum(['always', 'on-failure', 'never']),
  stop: z.object({ signal: z.enum(SIGNALS), timeout: z.string() }),
  /** The release it runs (release-variants.ts): its bundle, unpacked on the node, is its cwd. */
  release: z
    .object({
      number: z.number().int().positive(),
      sha256: z.string().regex(SHA256_HEX),
      bytes: z.number().int().positive(),
    })
    .optional(),
  /** Secret names this instance needs delivered to its node. */
  secrets: z.array(z.string()),
  /** Secrets the agent writes to 0400 files, announced as NAME_FILE in the env. */
  secret_files: z.array(z.string()),
});
export type DesiredInstance = z.infer<typeof desiredInstanceSchema>;

export const desiredNodeSchema = z.object({
  instances: z.array(desiredInstanceSchema),
  /** name → address of the services this node's services may reach, kept by the agent. */
  hosts: z.record(z.string(), z.string()),
  /** Which local service ports each native service may connect to (absent: none enforced). */
  segments: localSegmentsSchema.optional(),
  /** Planned ports of deployed instances, redirected to the variant serving them. */
  redirects: z
    .array(
      z.object({
        port: z.number().int().min(1).max(65535),
        to: z.number().int().min(1).max(65535),
      }),
    )
    .default([]),
});
export type DesiredNode = z.infer<typeof desiredNodeSchema>;

export interface DesiredOptions {
  /** Directory of the stack file: relative cwd and env_files resolve against it. */
  stackDir: string;
  /** Where services keep data on a node: `${data}` is `<stateDir>/data/<service>`. */
  stateDir: string;
  /** Nodes whose agent keeps its state elsewhere (`flotilla agent --state-dir`). */
  nodeStateDirs?: Readonly<Record<string, string>>;
  /** Deployed services' releases: which variants each instance runs (release-variants.ts). */
  releases?: StackReleases;
}

export function secretPlaceholder(name: string): string {
  return `\${secret:${name}}`;
}

/** The instance of `service` a client on `fromNode` talks to: a local one if there is one. */
function nearestInstance(
  byService: Map<string, Instance[]>,
  service: string,
  fromNode: string,
): Instance | undefined {
  const candidates = byService.get(service) ?? [];
  return candidates.find((instance) => instance.node === fromNode) ?? candidates[0];
}

/** The port an image service listens on inside its container, for one port name. */
function containerPort(service: Service, ports: Record<string, number>, name: string): number {
  return service.container_ports[name] ?? ports[name]!;
}

/** Where an image instance sits on its node's networks and who outside reaches it. */
type ContainerPlacement = Pick<
  ContainerRuntimeSpec,
  'networks' | 'native_hosts' | 'remote_hosts' | 'publish_address' | 'public_ports'
>;

function containerRuntime(
  stack: Stack,
  service: Service,
  ports: Record<string, number>,
  stackDir: string,
  render: (text: string) => string,
  placement: ContainerPlacement,
): ContainerRuntimeSpec {
  const image = service.image!;
  const server = parseImageReference(image).registry;
  const registry = stack.registries[server];
  return {
    kind: 'container',
    image,
    ...(service.command && { command: service.command.map(render) }),
    ...(service.entrypoint && { entrypoint: service.entrypoint.map(render) }),
    ...(service.user !== undefined && { user: service.user }),
    env_files: service.env_files.map((file) => path.resolve(stackDir, file)),
    mounts: service.volumes.map((volume) => {
      const [source = '', target = '', mode] = volume.split(':');
      const bind = source.startsWith('/') || source.startsWith('.');
      return {
        type: bind ? 'bind' : 'volume',
        source: bind ? path.resolve(stackDir, source) : source,
        target,
        read_only: mode === 'ro',
      };
    }),
    ...(service.memory !== undefined && { memory_bytes: parseSize(service.memory)! }),
    ...(service.cpus !== undefined && { cpus: service.cpus }),
    read_only: service.read_only,
    cap_drop: service.cap_drop,
    container_ports: Object.fromEntries(
      Object.keys(ports).map((name) => [name, containerPort(service, ports, name)]),
    ),
    ...placement,
    ...(registry && {
      registry_auth: {
        server,
        username: render(registry.username),
        password: render(registry.password),
      },
    }),
  };
}

/** Whether some address of `cidr` lies outside mesh.cidr (its clients come from off the mesh). */
function beyondMesh(stack: Stack, cidr: string): boolean {
  return !cidrWithin(parseCidr(cidr)!, parseCidr(stack.mesh.cidr)!);
}

/**
 * `node\0service` for each service instance a client on another node may reach (a service
 * with an instance there, that node, its gateway, or a firewall.allow range inside the
 * mesh): its container publishes its ports on its node's mesh address as well as on
 * loopback. A range reaching beyond the mesh is publicPorts' concern.
 */
function remoteClients(
  stack: Stack,
  instances: readonly Instance[],
  reachability: Reachability,
): Set<string> {
  const nodesOf = new Map<string, string[]>();
  for (const [service, list] of groupBy(instances, (instance) => instance.service))
    nodesOf.set(service, [...new Set(list.map((instance) => instance.node))]);
  const gateways = Object.keys(stack.nodes).filter((node) => stack.nodes[node]!.gateway);
  const result = new Set<string>();
  for (const { source, to } of reachability.grants) {
    // A mesh client that is no node of the stack is elsewhere for every node.
    const elsewhere = source.kind === 'cidr' && !beyondMesh(stack, source.cidr);
    const from =
      source.kind === 'service'
        ? (nodesOf.get(source.service) ?? [])
        : source.kind === 'node'
          ? [source.node]
          : source.kind === 'gateway'
            ? gateways
            : [];
    for (const node of nodesOf.get(to) ?? [])
      if (elsewhere || from.some((other) => other !== node)) result.add(`${node}\0${to}`);
  }
  return result;
}

/**
 * Service → the port names a firewall.allow range reaching beyond the mesh may connect to.
 * Such a client connects to the node's public address, so the container must listen there.
 */
function publicPorts(stack: Stack, reachability: Reachability): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const { source, to, ports } of reachability.grants) {
    if (source.kind !== 'cidr' || !beyondMesh(stack, source.cidr)) continue;
    const names = result.get(to) ?? new Set<string>();
    for (const name of ports) names.add(name);
    result.set(to, names);
  }
  return result;
}

export function desiredState(
  stack: Stack,
  instances: readonly Instance[],
  meshAddresses: Record<string, string>,
  reachability: Reachability,
  options: DesiredOptions,
): Record<string, DesiredNode> {
  const hostOf = (target: Instance, fromNode: string) =>
    target.node === fromNode ? '127.0.0.1' : meshAddresses[target.node]!;
  const byService = groupBy(instances, (instance) => instance.service);
  const reachableFrom = new Map<string, Set<string>>();
  for (const grant of reachability.grants) {
    if (grant.source.kind !== 'service') continue;
    const targets = reachableFrom.get(grant.source.service) ?? new Set<string>();
    reachableFrom.set(grant.source.service, targets.add(grant.to));
  }
  const segments = localSegments(stack, instances, reachability);
  const reachedFromElsewhere = remoteClients(stack, instances, reachability);
  const reachedFromOutside = publicPorts(stack, reachability);
  const result: Record<string, DesiredNode> = {};
  const byNode = groupBy(instances, (instance) => instance.node);
  for (const node of Object.keys(stack.nodes)) {
    const redirects = portRedirects(byNode.get(node) ?? [], options.releases);
    result[node] = {
      instances: [],
      hosts: {},
      // Containers reach native services through the segment table's own DNAT.
      segments:
        redirects.length > 0 && segments[node]!.containers
          ? { ...segments[node]!, redirects }
          : segments[node]!,
      redirects,
    };
  }
  // A node gets name entries for what its own services may reach, and nothing else.
  for (const [node, local] of byNode) {
    const hosts = result[node]!.hosts;
    for (const service of new Set(local.map((instance) => instance.service))) {
      for (const reachable of reachableFrom.get(service) ?? []) {
        const target = nearestInstance(byService, reachable, node);
        if (target && !Object.hasOwn(hosts, reachable)) hosts[reachable] = hostOf(target, node);
      }
    }
  }
  for (const variant of instances.flatMap((planned) => placedVariants(planned, options.releases))) {
    const { instance, release } = variant;
    const service = stack.services[instance.service]!;
    const stateDir = options.nodeStateDirs?.[instance.node] ?? options.stateDir;
    const dataDir = path.join(stateDir, 'data', instance.service);
    const secrets = new Set<string>();
    const resolve = (ref: Reference): string => {
      switch (ref.kind) {
        case 'secret':
          secrets.add(ref.name);
          return secretPlaceholder(ref.name);
        case 'self': {
          const name = ref.port ?? defaultPortName(service)!;
          // Inside a container, its own port is the one the image listens on.
          if (ref.field === 'port')
            return String(
              service.image ? containerPort(service, instance.ports, name) : instance.ports[name],
            );
          if (ref.field === 'data') return dataDir;
          if (ref.field === 'node') return instance.node;
          return String(instance.index);
        }
        case 'service': {
          const target = nearestInstance(byService, ref.service, instance.node)!;
          const targetService = stack.services[ref.service]!;
          const name = ref.port ?? defaultPortName(targetService)!;
          // Container to container on one node: over their segment's Docker network, by
          // the target's service name (a network alias) and the port inside its container.
          // Container to a native service on its node: by the service's name too (an extra
          // host at the container's gateway, DNAT'd to the loopback port, local-segments.ts).
          // On another node: by name as well (an extra host at that node's mesh address).
          const local = service.image !== undefined && target.node === instance.node;
          const bridged = local && targetService.image !== undefined;
          const host = service.image !== undefined ? ref.service : hostOf(target, instance.node);
          const port = String(
            bridged ? containerPort(targetService, target.ports, name) : target.ports[name],
          );
          return ref.field === 'host' ? host : ref.field === 'port' ? port : `${host}:${port}`;
        }
      }
    };
    const render = (text: string) => renderTemplate(text, resolve, true);
    const env = Object.fromEntries(
      Object.entries(service.env).map(([key, value]) => [key, render(String(value))]),
    );
    const runtime: DesiredInstance['runtime'] = service.run
      ? {
          kind: 'process',
          command: service.run.command.map(render),
          cwd: release
            ? releaseDir(stateDir, instance.service, release.sha256)
            : path.resolve(options.stackDir, service.run.cwd ?? '.'),
          env_files: service.run.env_files.map((file) =>
            path.resolve(options.stackDir, service.run?.cwd ?? '.', file),
          ),
          ...(service.run.user === undefined ? {} : { user: service.run.user }),
          cgroup: serviceCgroup(stack.name, instance.node, instance.service),
        }
      : containerRuntime(stack, service, instance.ports, options.stackDir, render, {
          networks: serviceSegments(stack, instance.service).map((segment) => {
            const bridge = segments[instance.node]!.containers!.find(
              (local) => local.segment === segment,
            )!;
            return { segment, subnet: bridge.subnet, egress: bridge.egress };
          }),
          native_hosts: [...(reachableFrom.get(instance.service) ?? [])]
            .filter(
              (name) =>
                stack.services[name]?.run !== undefined &&
                byService.get(name)?.some((target) => target.node === instance.node),
            )
            .sort(),
          remote_hosts: Object.fromEntries(
            [...(reachableFrom.get(instance.service) ?? [])]
              .filter(
                (name) => !byService.get(name)?.some((target) => target.node === instance.node),
              )
              .flatMap((name) => {
                const target = nearestInstance(byService, name, instance.node);
                return target ? [[name, meshAddresses[target.node]!] as const] : [];
              })
              .sort(([a], [b]) => (a < b ? -1 : 1)),
          ),
          ...(reachedFromElsewhere.has(`${instance.node}\0${instance.service}`) &&
            meshAddresses[instance.node] !== undefined && {
              publish_address: meshAddresses[instance.node]!,
            }),
          ...(reachedFromOutside.has(instance.service) && {
            public_ports: Object.keys(instance.ports).filter((name) =>
              reachedFromOutside.get(instance.service)!.has(name),
            ),
          }),
        });
    const health = service.health?.exec
      ? { ...service.health, exec: { command: service.health.exec.command.map(render) } }
      : service.health;
    const desired: DesiredInstance = {
      id: instance.id,
      service: instance.service,
      index: instance.index,
      node: instance.node,
      runtime,
      env,
      ports: instance.ports,
      data_dir: dataDir,
      depends_on: service.depends_on,
      restart: service.restart,
      stop: service.stop,
      secrets: [...new Set([...secrets, ...service.secret_files])].sort(),
      secret_files: service.secret_files,
    };
    if (health) desired.health = health;
    if (release)
      desired.release = { number: release.number, sha256: release.sha256, bytes: release.bytes };
    result[instance.node]!.instances.push(desired);
  }
  return result;
}
