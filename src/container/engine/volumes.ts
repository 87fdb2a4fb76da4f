// Named volumes on one engine: created with labels so Flotilla can find its own, listed and
// inspected. Nothing here deletes data on its own: `remove` exists for an explicit request
// (a person asking), never for `down` or a reconcile.
import { z } from 'zod';
import { EngineConflictError, type EngineError, NoSuchVolumeError } from './errors.ts';
import { type EngineAnswer, type EngineTransport, filtersQuery, labelFilter } from './transport.ts';

export interface VolumeCreateOptions {
  name: string;
  labels?: Record<string, string>;
  /** Default `local`. */
  driver?: string;
  driverOptions?: Record<string, string>;
}

export interface VolumeInfo {
  name: string;
  driver: string;
  /** Where the data lives on the host. */
  mountpoint: string;
  labels: Record<string, string>;
  createdAt: string | undefined;
}

const volumeSchema = z.object({
  Name: z.string(),
  Driver: z.string(),
  Mountpoint: z.string(),
  Labels: z.record(z.string(), z.string()).nullish(),
  CreatedAt: z.string().optional(),
});

const listSchema = z.object({ Volumes: z.array(volumeSchema).nullish() });

function toInfo(raw: z.output<typeof volumeSchema>): VolumeInfo {
  return {
    name: raw.Name,
    driver: raw.Driver,
    mountpoint: raw.Mountpoint,
    labels: raw.Labels ?? {},
    createdAt: raw.CreatedAt,
  };
}

export class Volumes {
  constructor(private readonly transport: EngineTransport) {}

  /** Creates it, or returns the existing volume of that name unchanged (the engine's rule). */
  async create(options: VolumeCreateOptions, signal?: AbortSignal): Promise<VolumeInfo> {
    const raw = await this.transport.json(volumeSchema, {
      method: 'POST',
      path: '/volumes/create',
      json: {
        Name: options.name,
        Driver: options.driver ?? 'local',
        DriverOpts: options.driverOptions ?? {},
        Labels: options.labels ?? {},
      },
      signal,
    });
    return toInfo(raw);
  }

  async inspect(name: string, signal?: AbortSignal): Promise<VolumeInfo> {
    const raw = await this.transport.json(volumeSchema, {
      method: 'GET',
      path: `/volumes/${encodeURIComponent(name)}`,
      signal,
      failure: (answer) => volumeFailure(name, answer),
    });
    return toInfo(raw);
  }

  /** Every volume carrying all these labels. */
  async list(
    labels: Record<string, string> | readonly string[],
    signal?: AbortSignal,
  ): Promise<VolumeInfo[]> {
    const raw = await this.transport.json(listSchema, {
      method: 'GET',
      path: '/volumes',
      query: { filters: filtersQuery({ label: labelFilter(labels) }) },
      signal,
    });
    return (raw.Volumes ?? []).map(toInfo);
  }

  /** Deletes the volume and its data. Only for an explicit request; never called by `down`. */
  async remove(name: string, signal?: AbortSignal): Promise<void> {
    await this.transport.call({
      method: 'DELETE',
      path: `/volumes/${encodeURIComponent(name)}`,
      query: { force: false },
      signal,
      failure: (answer) => volumeFailure(name, answer),
    });
  }
}

function volumeFailure(name: string, answer: EngineAnswer): EngineError | undefined {
  const common = { statusCode: answer.statusCode, engineMessage: answer.message };
  if (answer.statusCode === 404) {
    return new NoSuchVolumeError(`no volume ${name} on this node`, {
      ...common,
      hint: 'check the volume name; a container that mounts it creates it',
    });
  }
  if (answer.statusCode === 409) {
    return new EngineConflictError(`volume ${name} is in use`, {
      ...common,
      hint: 'remove the containers that mount it first',
    });
  }
  return undefined;
}
