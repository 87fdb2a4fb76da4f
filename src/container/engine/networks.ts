// Docker networks on one engine: each of a node's segments becomes a bridge network
// (`internal` for internal segments, so its containers have no route out), with the subnet
// Flotilla chooses rather than one from dockerd's pools. Connecting a container to more
// networks, with aliases, is how one container sits in several segments.
import { z } from 'zod';
import { containerFailure } from './containers.ts';
import { EngineConflictError, type EngineError, NoSuchNetworkError } from './errors.ts';
import { type EngineAnswer, type EngineTransport, filtersQuery, labelFilter } from './transport.ts';

export interface NetworkCreateOptions {
  name: string;
  labels?: Record<string, string>;
  /** No route out of the network: its containers reach only each other. */
  internal?: boolean;
  /** e.g. `10.210.3.0/24`; without it the engine picks from its address pools. */
  subnet?: string;
  gateway?: string;
  /** Default `bridge`. */
  driver?: string;
  /** Driver options, e.g. `com.docker.network.bridge.name`, `…bridge.enable_ip_masquerade`. */
  options?: Record<string, string>;
}

export interface NetworkInfo {
  id: string;
  name: string;
  driver: string;
  internal: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  ipam: { subnet: string | undefined; gateway: string | undefined }[];
  /** By container id; present in inspect only (list answers leave it empty). */
  containers: Record<string, { name: string; ipv4Address: string }>;
}

const networkSchema = z.object({
  Id: z.string(),
  Name: z.string(),
  Driver: z.string(),
  Internal: z.boolean(),
  Labels: z.record(z.string(), z.string()).nullish(),
  Options: z.record(z.string(), z.string()).nullish(),
  IPAM: z
    .object({
      Config: z
        .array(z.object({ Subnet: z.string().optional(), Gateway: z.string().optional() }))
        .nullish(),
    })
    .nullish(),
  Containers: z
    .record(z.string(), z.object({ Name: z.string(), IPv4Address: z.string() }))
    .nullish(),
});

const createdSchema = z.object({ Id: z.string(), Warning: z.string().optional() });

function toInfo(raw: z.output<typeof networkSchema>): NetworkInfo {
  return {
    id: raw.Id,
    name: raw.Name,
    driver: raw.Driver,
    internal: raw.Internal,
    labels: raw.Labels ?? {},
    options: raw.Options ?? {},
    ipam: (raw.IPAM?.Config ?? []).map((config) => ({
      subnet: config.Subnet,
      gateway: config.Gateway,
    })),
    containers: Object.fromEntries(
      Object.entries(raw.Containers ?? {}).map(([id, container]) => [
        id,
        { name: container.Name, ipv4Address: container.IPv4Address },
      ]),
    ),
  };
}

export class Networks {
  constructor(private readonly transport: EngineTransport) {}

  /** Creates the network; EngineConflictError when the name is taken. Resolves with its id. */
  async create(options: NetworkCreateOptions, signal?: AbortSignal): Promise<string> {
    const created = await this.transport.json(createdSchema, {
      method: 'POST',
      path: '/networks/create',
      json: {
        Name: options.name,
        CheckDuplicate: true,
        Driver: options.driver ?? 'bridge',
        Internal: options.internal ?? false,
        Attachable: false,
        EnableIPv6: false,
        Labels: options.labels ?? {},
        Options: options.options ?? {},
        IPAM: {
          Driver: 'default',
          Config:
            options.subnet === undefined
              ? []
              : [{ Subnet: options.subnet, ...(options.gateway && { Gateway: options.gateway }) }],
        },
      },
      signal,
      failure: (answer) =>
        answer.statusCode === 409
          ? new EngineConflictError(`a network named ${options.name} already exists`, {
              statusCode: 409,
              engineMessage: answer.message,
              hint: 'remove it, or reuse it if its labels say it is this segment',
            })
          : undefined,
    });
    return created.Id;
  }

  async inspect(idOrName: string, signal?: AbortSignal): Promise<NetworkInfo> {
    const raw = await this.transport.json(networkSchema, {
      method: 'GET',
      path: `/networks/${encodeURIComponent(idOrName)}`,
      signal,
      failure: (answer) => networkFailure(idOrName, answer),
    });
    return toInfo(raw);
  }

  /** Every network carrying all these labels. */
  async list(
    labels: Record<string, string> | readonly string[],
    signal?: AbortSignal,
  ): Promise<NetworkInfo[]> {
    const raw = await this.transport.json(z.array(networkSchema), {
      method: 'GET',
      path: '/networks',
      query: { filters: filtersQuery({ label: labelFilter(labels) }) },
      signal,
    });
    return raw.map(toInfo);
  }

  /**
   * Attaches a (created or running) container; `aliases` are extra names it answers to. The
   * network must exist: the engine (20.10) accepts a missing one for a created container
   * and fails only at its start.
   */
  async connect(
    network: string,
    container: string,
    options: { aliases?: readonly string[]; ipv4Address?: string; signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.inspect(network, options.signal);
    await this.transport.call({
      method: 'POST',
      path: `/networks/${encodeURIComponent(network)}/connect`,
      json: {
        Container: container,
        EndpointConfig: {
          ...(options.aliases && { Aliases: [...options.aliases] }),
          ...(options.ipv4Address && { IPAMConfig: { IPv4Address: options.ipv4Address } }),
        },
      },
      signal: options.signal,
      failure: (answer) => attachFailure(network, container, answer),
    });
  }

  async disconnect(
    network: string,
    container: string,
    options: { force?: boolean; signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.transport.call({
      method: 'POST',
      path: `/networks/${encodeURIComponent(network)}/disconnect`,
      json: { Container: container, Force: options.force ?? false },
      signal: options.signal,
      failure: (answer) => attachFailure(network, container, answer),
    });
  }

  /** Removes it; EngineConflictError while containers are still attached. */
  async remove(idOrName: string, signal?: AbortSignal): Promise<void> {
    await this.transport.call({
      method: 'DELETE',
      path: `/networks/${encodeURIComponent(idOrName)}`,
      signal,
      failure: (answer) => networkFailure(idOrName, answer),
    });
  }
}

function networkFailure(network: string, answer: EngineAnswer): EngineError | undefined {
  const common = { statusCode: answer.statusCode, engineMessage: answer.message };
  if (answer.statusCode === 404) {
    return new NoSuchNetworkError(`no network ${network} on this node`, {
      ...common,
      hint: 'it was removed outside Flotilla, or never created: reconcile creates segments first',
    });
  }
  if (answer.statusCode === 403 || answer.statusCode === 409) {
    return new EngineConflictError(`network ${network}: ${answer.message}`, {
      ...common,
      hint: 'containers are still attached to it: remove or disconnect them first',
    });
  }
  return undefined;
}

/** The engine answers 404 for either a missing network or a missing container. */
function attachFailure(
  network: string,
  container: string,
  answer: EngineAnswer,
): EngineError | undefined {
  if (answer.statusCode === 404 && /network/i.test(answer.message))
    return networkFailure(network, answer);
  return containerFailure(container, answer) ?? networkFailure(network, answer);
}
