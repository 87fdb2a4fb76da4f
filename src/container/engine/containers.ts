// Containers on one engine: the create body (built by a pure function, so a test can read
// it whole), the life cycle calls, inspect and list. Restart policy is always "no" (Flotilla
// supervises and counts restarts itself), there is never a TTY (logs and exec output stay
// multiplexed), and removing a container never removes a volume.
import { z } from 'zod';
import { EngineConflictError, EngineError, NoSuchContainerError } from './errors.ts';
import { noSuchImage } from './images.ts';
import { type EngineAnswer, type EngineTransport, filtersQuery, labelFilter } from './transport.ts';

export type Mount =
  | { type: 'bind'; source: string; target: string; readOnly?: boolean }
  /** A named volume; the engine creates it when missing. */
  | { type: 'volume'; source: string; target: string; readOnly?: boolean }
  /** `mode` is the mount's root directory mode, e.g. 0o700 for a secrets directory. */
  | { type: 'tmpfs'; target: string; sizeBytes?: number; mode?: number };

/** A `source:target[:ro]` bind; unlike a `bind` Mount, a missing host directory is created. */
export interface Bind {
  source: string;
  target: string;
  readOnly?: boolean;
}

export interface PortBinding {
  containerPort: number;
  protocol?: 'tcp' | 'udp';
  /** Always explicit: the mesh address or loopback; 0.0.0.0 only where routed traffic needs it. */
  hostIp: string;
  /** Undefined or 0: the engine picks a free port (read it back with inspect). */
  hostPort?: number;
}

export interface HealthcheckOptions {
  /** `["CMD", argv…]` or `["CMD-SHELL", "command"]`. */
  test: readonly string[];
  intervalMs?: number;
  timeoutMs?: number;
  startPeriodMs?: number;
  retries?: number;
}

export interface ContainerCreateOptions {
  name: string;
  /** A reference or image id; prefer `repository@sha256:…` (what the desired state pins). */
  image: string;
  labels?: Record<string, string>;
  env?: Record<string, string>;
  /** Replaces the image's CMD. */
  cmd?: readonly string[];
  /** Replaces the image's ENTRYPOINT; `[]` clears it. */
  entrypoint?: readonly string[];
  /** `name`, `uid` or `uid:gid`. */
  user?: string;
  workingDir?: string;
  hostname?: string;
  binds?: readonly Bind[];
  mounts?: readonly Mount[];
  memoryBytes?: number;
  /** CPU limit in billionths of a CPU: 0.5 CPU is 500_000_000. */
  nanoCpus?: number;
  readonlyRootfs?: boolean;
  capDrop?: readonly string[];
  capAdd?: readonly string[];
  ports?: readonly PortBinding[];
  /** Extra /etc/hosts lines inside the container: discovery by name. */
  extraHosts?: readonly { hostname: string; address: string }[];
  /** `none`, `host`, `bridge` or a network's name; the engine's default when undefined. */
  networkMode?: string;
  /** Names the container also answers to on the `networkMode` network (user-defined only). */
  networkAliases?: readonly string[];
  /** A fixed address on the `networkMode` network (within its IPAM subnet). */
  ipv4Address?: string;
  /** Run docker-init as PID 1, so signals reach the process and zombies are reaped. */
  init?: boolean;
  stopSignal?: string;
  /** Seconds the engine waits after the stop signal before SIGKILL (stop's default). */
  stopTimeoutSeconds?: number;
  /** Overrides the image's HEALTHCHECK; `'none'` disables it. */
  healthcheck?: HealthcheckOptions | 'none';
  /** json-file rotation; default 10m × 3 files. `logs` reads across rotated files. */
  log?: { maxSize: string; maxFiles: number };
}

export type ContainerStatus =
  'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerHealth {
  status: 'starting' | 'healthy' | 'unhealthy' | 'none';
  failingStreak: number;
  /** The most recent check's result. */
  last:
    | { start: Date | undefined; end: Date | undefined; exitCode: number; output: string }
    | undefined;
}

export interface ContainerState {
  status: ContainerStatus;
  running: boolean;
  /** Host PID of the container's first process; 0 when not running. */
  pid: number;
  exitCode: number;
  /** The engine's error starting it (e.g. an executable that is missing), or ''. */
  error: string;
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  oomKilled: boolean;
  /** Undefined when neither the image nor the create options define a healthcheck. */
  health: ContainerHealth | undefined;
}

export interface PublishedPort {
  containerPort: number;
  protocol: string;
  hostIp: string;
  hostPort: number;
}

export interface ContainerInfo {
  id: string;
  /** Without the engine's leading slash. */
  name: string;
  created: Date | undefined;
  /** The image id (`sha256:…`) it runs. */
  imageId: string;
  /** The reference it was created from (`Config.Image`). */
  image: string;
  labels: Record<string, string>;
  /** Restarts by the engine itself; always 0 under restart policy "no". */
  restartCount: number;
  state: ContainerState;
  config: {
    env: string[];
    cmd: string[] | undefined;
    entrypoint: string[] | undefined;
    user: string;
    workingDir: string;
    stopSignal: string | undefined;
    stopTimeoutSeconds: number | undefined;
  };
  hostConfig: {
    memoryBytes: number;
    nanoCpus: number;
    readonlyRootfs: boolean;
    capDrop: string[];
    capAdd: string[];
    init: boolean;
    networkMode: string;
  };
  mounts: {
    type: string;
    name: string | undefined;
    source: string;
    destination: string;
    readOnly: boolean;
  }[];
  /** Bound host ports, once running (with the engine's choice where hostPort was 0). */
  ports: PublishedPort[];
  networks: Record<string, { networkId: string; ipAddress: string; aliases: string[] }>;
}

export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  imageId: string;
  labels: Record<string, string>;
  status: ContainerStatus;
  /** Human text such as "Up 5 minutes" / "Exited (0) 3 seconds ago". */
  statusText: string;
  created: Date;
}

const DEFAULT_LOG = { maxSize: '10m', maxFiles: 3 };
const NANOS_PER_MS = 1e6;
/** A stop may take its whole grace period before the engine answers. */
const STOP_MARGIN_MS = 60_000;

const statusSchema = z.enum([
  'created',
  'running',
  'paused',
  'restarting',
  'removing',
  'exited',
  'dead',
]);
const labelsSchema = z
  .record(z.string(), z.string())
  .nullish()
  .transform((labels) => labels ?? {});

const inspectSchema = z.object({
  Id: z.string(),
  Name: z.string(),
  Created: z.string(),
  Image: z.string(),
  RestartCount: z.number(),
  State: z.object({
    Status: statusSchema,
    Running: z.boolean(),
    OOMKilled: z.boolean(),
    Pid: z.number(),
    ExitCode: z.number(),
    Error: z.string().default(''),
    StartedAt: z.string(),
    FinishedAt: z.string(),
    Health: z
      .object({
        Status: z.enum(['starting', 'healthy', 'unhealthy', 'none']),
        FailingStreak: z.number(),
        Log: z
          .array(
            z.object({
              Start: z.string(),
              End: z.string(),
              ExitCode: z.number(),
              Output: z.string(),
            }),
          )
          .nullish(),
      })
      .nullish(),
  }),
  Config: z.object({
    Image: z.string(),
    Labels: labelsSchema,
    Env: z.array(z.string()).nullish(),
    Cmd: z.array(z.string()).nullish(),
    Entrypoint: z.array(z.string()).nullish(),
    User: z.string().default(''),
    WorkingDir: z.string().default(''),
    StopSignal: z.string().nullish(),
    StopTimeout: z.number().nullish(),
  }),
  HostConfig: z.object({
    Memory: z.number().default(0),
    NanoCpus: z.number().default(0),
    ReadonlyRootfs: z.boolean().default(false),
    CapDrop: z.array(z.string()).nullish(),
    CapAdd: z.array(z.string()).nullish(),
    Init: z.boolean().nullish(),
    NetworkMode: z.string().default(''),
  }),
  Mounts: z
    .array(
      z.object({
        Type: z.string(),
        Name: z.string().optional(),
        Source: z.string(),
        Destination: z.string(),
        RW: z.boolean(),
      }),
    )
    .nullish(),
  NetworkSettings: z.object({
    Ports: z
      .record(
        z.string(),
        z.array(z.object({ HostIp: z.string(), HostPort: z.string() })).nullable(),
      )
      .nullish(),
    Networks: z
      .record(
        z.string(),
        z.object({
          NetworkID: z.string(),
          IPAddress: z.string(),
          Aliases: z.array(z.string()).nullish(),
        }),
      )
      .nullish(),
  }),
});

const summarySchema = z.array(
  z.object({
    Id: z.string(),
    Names: z.array(z.string()).nullish(),
    Image: z.string(),
    ImageID: z.string(),
    Labels: labelsSchema,
    State: statusSchema,
    Status: z.string(),
    Created: z.number(),
  }),
);

const createdSchema = z.object({ Id: z.string(), Warnings: z.array(z.string()).nullish() });
const waitSchema = z.object({
  StatusCode: z.number(),
  Error: z.object({ Message: z.string() }).nullish(),
});

/** The engine's zero time ("0001-01-01T00:00:00Z") means "never". */
export function engineTime(text: string): Date | undefined {
  if (text === '' || text.startsWith('0001-01-01')) return undefined;
  // Date keeps milliseconds; the engine writes nanoseconds.
  const date = new Date(text.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The body of POST /containers/create for `options`: pure, so tests can read it whole. */
export function createBody(options: ContainerCreateOptions): Record<string, unknown> {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const port of options.ports ?? []) {
    const key = `${port.containerPort}/${port.protocol ?? 'tcp'}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({
      HostIp: port.hostIp,
      HostPort: port.hostPort ? String(port.hostPort) : '',
    });
  }
  const log = options.log ?? DEFAULT_LOG;
  const network = options.networkMode;
  const endpoint =
    network !== undefined &&
    (options.networkAliases !== undefined || options.ipv4Address !== undefined)
      ? {
          [network]: {
            ...(options.networkAliases && { Aliases: [...options.networkAliases] }),
            ...(options.ipv4Address && { IPAMConfig: { IPv4Address: options.ipv4Address } }),
          },
        }
      : undefined;
  return {
    Image: options.image,
    Labels: options.labels ?? {},
    Env: Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`),
    ...(options.cmd && { Cmd: [...options.cmd] }),
    // The engine reads an empty list as "keep the image's"; [""] clears it.
    ...(options.entrypoint && {
      Entrypoint: options.entrypoint.length === 0 ? [''] : [...options.entrypoint],
    }),
    ...(options.user !== undefined && { User: options.user }),
    ...(options.workingDir !== undefined && { WorkingDir: options.workingDir }),
    ...(options.hostname !== undefined && { Hostname: options.hostname }),
    ...(options.stopSignal !== undefined && { StopSignal: options.stopSignal }),
    ...(options.stopTimeoutSeconds !== undefined && { StopTimeout: options.stopTimeoutSeconds }),
    ...(options.healthcheck !== undefined && { Healthcheck: healthcheckBody(options.healthcheck) }),
    ExposedPorts: exposed,
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    HostConfig: {
      Binds: (options.binds ?? []).map(
        (bind) => `${bind.source}:${bind.target}${bind.readOnly ? ':ro' : ''}`,
      ),
      Mounts: (options.mounts ?? []).map(mountBody),
      Memory: options.memoryBytes ?? 0,
      NanoCpus: options.nanoCpus ?? 0,
      ReadonlyRootfs: options.readonlyRootfs ?? false,
      CapDrop: [...(options.capDrop ?? [])],
      CapAdd: [...(options.capAdd ?? [])],
      PortBindings: bindings,
      ExtraHosts: (options.extraHosts ?? []).map((entry) => `${entry.hostname}:${entry.address}`),
      ...(network !== undefined && { NetworkMode: network }),
      RestartPolicy: { Name: 'no' },
      AutoRemove: false,
      Init: options.init ?? false,
      LogConfig: {
        Type: 'json-file',
        Config: { 'max-size': log.maxSize, 'max-file': String(log.maxFiles) },
      },
    },
    ...(endpoint && { NetworkingConfig: { EndpointsConfig: endpoint } }),
  };
}

function healthcheckBody(health: HealthcheckOptions | 'none'): Record<string, unknown> {
  if (health === 'none') return { Test: ['NONE'] };
  return {
    Test: [...health.test],
    ...(health.intervalMs !== undefined && { Interval: health.intervalMs * NANOS_PER_MS }),
    ...(health.timeoutMs !== undefined && { Timeout: health.timeoutMs * NANOS_PER_MS }),
    ...(health.startPeriodMs !== undefined && { StartPeriod: health.startPeriodMs * NANOS_PER_MS }),
    ...(health.retries !== undefined && { Retries: health.retries }),
  };
}

function mountBody(mount: Mount): Record<string, unknown> {
  switch (mount.type) {
    case 'tmpfs':
      return {
        Type: 'tmpfs',
        Target: mount.target,
        TmpfsOptions: {
          ...(mount.sizeBytes !== undefined && { SizeBytes: mount.sizeBytes }),
          ...(mount.mode !== undefined && { Mode: mount.mode }),
        },
      };
    case 'bind':
    case 'volume':
      return {
        Type: mount.type,
        Source: mount.source,
        Target: mount.target,
        ReadOnly: mount.readOnly ?? false,
      };
  }
}

export class Containers {
  constructor(private readonly transport: EngineTransport) {}

  /** Creates (does not start) a container; resolves with its id and the engine's warnings. */
  async create(
    options: ContainerCreateOptions,
    signal?: AbortSignal,
  ): Promise<{ id: string; warnings: string[] }> {
    const created = await this.transport.json(createdSchema, {
      method: 'POST',
      path: '/containers/create',
      query: { name: options.name },
      json: createBody(options),
      signal,
      failure: (answer) =>
        noSuchImage(options.image, answer) ??
        (answer.statusCode === 409
          ? new EngineConflictError(`a container named ${options.name} already exists`, {
              statusCode: 409,
              engineMessage: answer.message,
              hint: 'remove it, or adopt it if its labels say it is this instance',
            })
          : undefined),
    });
    return { id: created.Id, warnings: created.Warnings ?? [] };
  }

  /**
   * Starts it; a container already running is not an error. A process that cannot start (a
   * missing executable, a port taken) fails here, with the runtime's reason.
   */
  async start(id: string, signal?: AbortSignal): Promise<void> {
    await this.transport.call({
      method: 'POST',
      path: `/containers/${encodeURIComponent(id)}/start`,
      accept: [304],
      signal,
      failure: (answer) =>
        containerFailure(id, answer) ??
        new EngineError(`container ${id} did not start: ${answer.message}`, {
          statusCode: answer.statusCode,
          engineMessage: answer.message,
          hint: 'check its image, command, user, mounts, networks and ports (a host port taken?)',
        }),
    });
  }

  /**
   * Sends the stop signal, then SIGKILL after `timeoutSeconds` (default: the container's
   * StopTimeout, else 10 s); resolves once it has stopped. A stopped container is no error.
   */
  async stop(
    id: string,
    options: { timeoutSeconds?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.transport.call({
      method: 'POST',
      path: `/containers/${encodeURIComponent(id)}/stop`,
      query: { t: options.timeoutSeconds },
      accept: [304],
      signal: options.signal,
      timeoutMs: (options.timeoutSeconds ?? 10) * 1000 + STOP_MARGIN_MS,
      failure: (answer) => containerFailure(id, answer),
    });
  }

  /** Sends a unix signal (default SIGKILL); EngineConflictError when it is not running. */
  async kill(id: string, unixSignal = 'SIGKILL', signal?: AbortSignal): Promise<void> {
    await this.transport.call({
      method: 'POST',
      path: `/containers/${encodeURIComponent(id)}/kill`,
      query: { signal: unixSignal },
      signal,
      failure: (answer) => containerFailure(id, answer),
    });
  }

  /**
   * Resolves with the exit code once the container is not running (`not-running`, the
   * default: at once if it already exited), exits next (`next-exit`), or is removed.
   */
  async wait(
    id: string,
    options: { condition?: 'not-running' | 'next-exit' | 'removed'; signal?: AbortSignal } = {},
  ): Promise<{ exitCode: number; error: string | undefined }> {
    const answer = await this.transport.json(waitSchema, {
      method: 'POST',
      path: `/containers/${encodeURIComponent(id)}/wait`,
      query: { condition: options.condition },
      signal: options.signal,
      timeoutMs: false,
      failure: (failed) => containerFailure(id, failed),
    });
    return { exitCode: answer.StatusCode, error: answer.Error?.Message || undefined };
  }

  async inspect(id: string, signal?: AbortSignal): Promise<ContainerInfo> {
    const raw = await this.transport.json(inspectSchema, {
      method: 'GET',
      path: `/containers/${encodeURIComponent(id)}/json`,
      signal,
      failure: (answer) => containerFailure(id, answer),
    });
    const health = raw.State.Health;
    const last = health?.Log?.at(-1);
    return {
      id: raw.Id,
      name: raw.Name.replace(/^\//, ''),
      created: engineTime(raw.Created),
      imageId: raw.Image,
      image: raw.Config.Image,
      labels: raw.Config.Labels,
      restartCount: raw.RestartCount,
      state: {
        status: raw.State.Status,
        running: raw.State.Running,
        pid: raw.State.Pid,
        exitCode: raw.State.ExitCode,
        error: raw.State.Error,
        startedAt: engineTime(raw.State.StartedAt),
        finishedAt: engineTime(raw.State.FinishedAt),
        oomKilled: raw.State.OOMKilled,
        health:
          health == null
            ? undefined
            : {
                status: health.Status,
                failingStreak: health.FailingStreak,
                last:
                  last === undefined
                    ? undefined
                    : {
                        start: engineTime(last.Start),
                        end: engineTime(last.End),
                        exitCode: last.ExitCode,
                        output: last.Output,
                      },
              },
      },
      config: {
        env: raw.Config.Env ?? [],
        cmd: raw.Config.Cmd ?? undefined,
        entrypoint: raw.Config.Entrypoint ?? undefined,
        user: raw.Config.User,
        workingDir: raw.Config.WorkingDir,
        stopSignal: raw.Config.StopSignal ?? undefined,
        stopTimeoutSeconds: raw.Config.StopTimeout ?? undefined,
      },
      hostConfig: {
        memoryBytes: raw.HostConfig.Memory,
        nanoCpus: raw.HostConfig.NanoCpus,
        readonlyRootfs: raw.HostConfig.ReadonlyRootfs,
        capDrop: raw.HostConfig.CapDrop ?? [],
        capAdd: raw.HostConfig.CapAdd ?? [],
        init: raw.HostConfig.Init ?? false,
        networkMode: raw.HostConfig.NetworkMode,
      },
      mounts: (raw.Mounts ?? []).map((mount) => ({
        type: mount.Type,
        name: mount.Name,
        source: mount.Source,
        destination: mount.Destination,
        readOnly: !mount.RW,
      })),
      ports: Object.entries(raw.NetworkSettings.Ports ?? {}).flatMap(([key, bound]) => {
        const [port, protocol = 'tcp'] = key.split('/');
        return (bound ?? []).map((binding) => ({
          containerPort: Number(port),
          protocol,
          hostIp: binding.HostIp,
          hostPort: Number(binding.HostPort),
        }));
      }),
      networks: Object.fromEntries(
        Object.entries(raw.NetworkSettings.Networks ?? {}).map(([name, network]) => [
          name,
          {
            networkId: network.NetworkID,
            ipAddress: network.IPAddress,
            aliases: network.Aliases ?? [],
          },
        ]),
      ),
    };
  }

  /** Every container (running or not) carrying all these labels. */
  async list(
    labels: Record<string, string> | readonly string[],
    signal?: AbortSignal,
  ): Promise<ContainerSummary[]> {
    const raw = await this.transport.json(summarySchema, {
      method: 'GET',
      path: '/containers/json',
      query: { all: true, filters: filtersQuery({ label: labelFilter(labels) }) },
      signal,
    });
    return raw.map((container) => ({
      id: container.Id,
      name: (container.Names?.[0] ?? '').replace(/^\//, ''),
      image: container.Image,
      imageId: container.ImageID,
      labels: container.Labels,
      status: container.State,
      statusText: container.Status,
      created: new Date(container.Created * 1000),
    }));
  }

  /**
   * Removes the container (`force` also kills a running one). Its volumes stay: named
   * volumes are data, and Flotilla never deletes data on its own.
   */
  async remove(id: string, options: { force?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    await this.transport.call({
      method: 'DELETE',
      path: `/containers/${encodeURIComponent(id)}`,
      query: { force: options.force ?? false, v: false },
      signal: options.signal,
      failure: (answer) => containerFailure(id, answer),
    });
  }

  async rename(id: string, name: string, signal?: AbortSignal): Promise<void> {
    await this.transport.call({
      method: 'POST',
      path: `/containers/${encodeURIComponent(id)}/rename`,
      query: { name },
      signal,
      failure: (answer) => containerFailure(id, answer),
    });
  }
}

/** 404 and 409 answers about a container, typed; other statuses fall back to EngineError. */
export function containerFailure(id: string, answer: EngineAnswer): EngineError | undefined {
  const common = { statusCode: answer.statusCode, engineMessage: answer.message };
  if (answer.statusCode === 404) {
    return new NoSuchContainerError(`no container ${id} on this node`, {
      ...common,
      hint: 'it was removed outside Flotilla, or the id is stale: list containers by label again',
    });
  }
  if (answer.statusCode === 409) {
    return new EngineConflictError(`container ${id}: ${answer.message}`, {
      ...common,
      hint: 'the container is not in a state that allows this (not running? being removed?)',
    });
  }
  return undefined;
}
