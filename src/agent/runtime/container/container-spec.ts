// From a desired instance to the exact container the supervisor runs: the engine's create
// options (labels, env, mounts, limits, ports, stop policy) rendered here, on the node,
// where secrets may be filled in. The environment is the one a native process gets
// (process-spec.ts renders it: env files, declared env, FLOTILLA_*), minus the host's
// PATH and HOME so the image's own stand. `secret_files` are bind-mounted read-only from
// the agent's memory-backed secret dir at /run/secrets/<NAME>, so a secret given as a file
// never shows in `docker inspect`'s Env nor on a command line.
import type {
  ContainerCreateOptions,
  Mount,
  RegistryAuth,
} from '../../../container/engine/index.ts';
import type { ContainerRuntimeSpec, DesiredInstance } from '../../../plan/desired.ts';
import { segmentGateway, segmentNetwork } from '../../../plan/local-segments.ts';
import { parseDuration } from '../../../spec/formats.ts';
import { renderTemplate } from '../../../spec/interpolation.ts';
import { configHash } from '../../../state/config-hash.ts';
import {
  InstanceSpecError,
  processSpecFor,
  secretFilePath,
  SERVICE_PATH,
  type AgentPaths,
  type SecretLookup,
} from '../../process-spec.ts';
import type { RestartPolicy } from '../supervisor.ts';
import { egressGateway } from './default-route.ts';

export const LABEL = {
  stack: 'flotilla.stack',
  node: 'flotilla.node',
  service: 'flotilla.service',
  instance: 'flotilla.instance',
  specHash: 'flotilla.spec-hash',
  segment: 'flotilla.segment',
} as const;

/** Where a secret file appears inside the container. */
export const SECRETS_DIR = '/run/secrets';
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/** Docker's own default; applies to every container the runtime creates. */
const LOG_ROTATION = { maxSize: '10m', maxFiles: 3 };

export interface ContainerSpec {
  id: string;
  stack: string;
  node: string;
  service: string;
  /** Its segments' networks on this node, first the one it is created on (its gateway's). */
  networks: string[];
  /** What its networks are made with (segment-networks.ts). */
  segments: Pick<ContainerRuntimeSpec, 'networks' | 'native_hosts'>;
  /** The gateway its default route must take, where dockerd's could be wrong (default-route.ts). */
  defaultRoute?: string;
  /** Everything the container is created with, labels included (but the spec hash). */
  create: ContainerCreateOptions;
  registryAuth?: RegistryAuth;
  stop: { signal: NodeJS.Signals; timeoutMs: number };
  restart: RestartPolicy;
  /** Changes whenever anything it runs with changes (rendered secrets included). */
  specHash: string;
}

export function containerName(stack: string, instance: string): string {
  return `flotilla-${stack}-${instance}`;
}

/** The labels every container of this stack on this node carries. */
export function ownerLabels(stack: string, node: string): Record<string, string> {
  return { [LABEL.stack]: stack, [LABEL.node]: node };
}

function containerRuntime(instance: DesiredInstance): ContainerRuntimeSpec {
  if (instance.runtime.kind !== 'container')
    throw new InstanceSpecError(`${instance.id} is not an image service`);
  return instance.runtime;
}

/**
 * The process spec's rendering of env and argv, reused: a process-shaped copy of the
 * instance goes through processSpecFor (which refuses a secret on a command line, since
 * `docker inspect` and the host's /proc show it like any argv).
 */
function rendered(instance: DesiredInstance, paths: AgentPaths, secrets: SecretLookup) {
  const runtime = containerRuntime(instance);
  const entrypoint = runtime.entrypoint ?? [];
  const spec = processSpecFor(
    {
      ...instance,
      runtime: {
        kind: 'process',
        command: [...entrypoint, ...(runtime.command ?? [])],
        cwd: '/',
        env_files: runtime.env_files,
      },
    },
    paths,
    secrets,
  );
  const env = { ...spec.env };
  const declares = (name: string) => Object.hasOwn(instance.env, name);
  if (env.PATH === SERVICE_PATH && !declares('PATH')) delete env.PATH;
  if (!declares('HOME')) delete env.HOME;
  for (const name of instance.secret_files) env[`${name}_FILE`] = `${SECRETS_DIR}/${name}`;
  return {
    env,
    entrypoint: runtime.entrypoint && spec.command.slice(0, entrypoint.length),
    command: runtime.command && spec.command.slice(entrypoint.length),
  };
}

function registryAuth(
  runtime: ContainerRuntimeSpec,
  secrets: SecretLookup,
): RegistryAuth | undefined {
  const auth = runtime.registry_auth;
  if (!auth) return undefined;
  const render = (text: string) =>
    renderTemplate(text, (ref) => {
      const value = ref.kind === 'secret' ? secrets(ref.name) : undefined;
      if (value === undefined)
        throw new InstanceSpecError(
          `registry ${auth.server}: secret ${ref.kind === 'secret' ? ref.name : '?'} is not set (flotilla secrets set …)`,
        );
      return value;
    });
  return {
    serverAddress: auth.server,
    username: render(auth.username),
    password: render(auth.password),
  };
}

/**
 * The host addresses a port is published on: loopback for this node (its gateway, native
 * clients), and the mesh address as well when another node reaches it. 0.0.0.0 only for a
 * port a firewall.allow range beyond the mesh reaches: those clients connect to the node's
 * public address, and the node's input firewall (default drop) still admits only them. It
 * covers loopback and the mesh address too, and a second bind of the port would collide.
 */
function publishedOn(runtime: ContainerRuntimeSpec, portName: string): string[] {
  if (runtime.public_ports?.includes(portName)) return ['0.0.0.0'];
  return ['127.0.0.1', ...(runtime.publish_address ? [runtime.publish_address] : [])];
}

export function containerSpecFor(
  instance: DesiredInstance,
  stack: string,
  paths: AgentPaths,
  secrets: SecretLookup,
): ContainerSpec {
  const runtime = containerRuntime(instance);
  const { env, entrypoint, command } = rendered(instance, paths, secrets);
  const timeoutMs = parseDuration(instance.stop.timeout) ?? DEFAULT_STOP_TIMEOUT_MS;
  const mounts: Mount[] = [
    ...runtime.mounts.map((mount) => ({
      type: mount.type,
      source: mount.source,
      target: mount.target,
      readOnly: mount.read_only,
    })),
    ...instance.secret_files.map((name) => ({
      type: 'bind' as const,
      source: secretFilePath(paths, instance.id, name),
      target: `${SECRETS_DIR}/${name}`,
      readOnly: true,
    })),
  ];
  const networks = runtime.networks.map(({ segment }) => segmentNetwork(stack, segment));
  const create: ContainerCreateOptions = {
    name: containerName(stack, instance.id),
    image: runtime.image,
    labels: {
      ...ownerLabels(stack, instance.node),
      [LABEL.service]: instance.service,
      [LABEL.instance]: instance.id,
    },
    env,
    ...(command && { cmd: command }),
    ...(entrypoint && { entrypoint }),
    ...(runtime.user !== undefined && { user: runtime.user }),
    mounts,
    ...(runtime.memory_bytes !== undefined && { memoryBytes: runtime.memory_bytes }),
    ...(runtime.cpus !== undefined && { nanoCpus: Math.round(runtime.cpus * 1e9) }),
    readonlyRootfs: runtime.read_only,
    capDrop: runtime.cap_drop,
    ports: Object.entries(instance.ports).flatMap(([name, hostPort]) =>
      publishedOn(runtime, name).map((hostIp) => ({
        containerPort: runtime.container_ports[name] ?? hostPort,
        hostIp,
        hostPort,
      })),
    ),
    networkMode: networks[0]!,
    networkAliases: [instance.service],
    // Native services it may reach, by name, at its first segment's gateway.
    // Services on other nodes, by name too, at their node's mesh address.
    extraHosts: [
      ...runtime.native_hosts.map((hostname) => ({
        hostname,
        address: segmentGateway(runtime.networks[0]!.subnet),
      })),
      ...Object.entries(runtime.remote_hosts).map(([hostname, address]) => ({
        hostname,
        address,
      })),
    ],
    init: true,
    stopSignal: instance.stop.signal,
    stopTimeoutSeconds: Math.ceil(timeoutMs / 1000),
    log: LOG_ROTATION,
  };
  const auth = registryAuth(runtime, secrets);
  const defaultRoute = egressGateway(runtime.networks);
  const spec: ContainerSpec = {
    id: instance.id,
    stack,
    node: instance.node,
    service: instance.service,
    networks,
    segments: { networks: runtime.networks, native_hosts: runtime.native_hosts },
    create,
    stop: { signal: instance.stop.signal, timeoutMs },
    restart: instance.restart,
    // The networks it joins after the first, and its route: joining or leaving a segment, or
    // a segment gaining or losing egress, replaces the container. Added only when there are
    // any, so a one-network container's hash stays what it was (an upgrade restarts nothing).
    specHash: configHash({
      ...create,
      ...(networks.length > 1 && { networks }),
      ...(defaultRoute !== undefined && { defaultRoute }),
    }),
  };
  if (auth) spec.registryAuth = auth;
  if (defaultRoute !== undefined) spec.defaultRoute = defaultRoute;
  return spec;
}
