// Images on one engine: what an image declares (id, digests, user, ports, HEALTHCHECK),
// pulling with progress and registry credentials, resolving a tag to the digest the desired
// state pins, and — for test fixtures, which have no registry to pull from — importing a
// rootfs tar, tagging and pushing.
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { EngineConflictError, EngineError, NoSuchImageError } from './errors.ts';
import { parseImageReference, pullReference } from './image-reference.ts';
import { type ProgressListener, readTransfer } from './image-transfer.ts';
import {
  authSecrets,
  type RegistryAuth,
  registryAuthHeader,
  registryFailure,
} from './registry-auth.ts';
import type { EngineAnswer, EngineTransport } from './transport.ts';

export interface ImageHealthcheck {
  /** `["CMD", argv…]`, `["CMD-SHELL", "command"]`, or `["NONE"]` (checks disabled). */
  test: string[];
  /** Undefined where the image leaves the engine's default (30 s, 30 s, 0 s, 3). */
  intervalMs: number | undefined;
  timeoutMs: number | undefined;
  startPeriodMs: number | undefined;
  retries: number | undefined;
}

export interface ExposedPort {
  port: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

export interface ImageInfo {
  /** `sha256:…`, the local image id (content-addressed config digest). */
  id: string;
  repoTags: string[];
  /** `repository@sha256:…` for every registry the image came from or went to. */
  repoDigests: string[];
  created: string;
  size: number;
  /** `''` when the image does not set one (root). */
  user: string;
  env: string[];
  cmd: string[] | undefined;
  entrypoint: string[] | undefined;
  workingDir: string;
  exposedPorts: ExposedPort[];
  healthcheck: ImageHealthcheck | undefined;
  labels: Record<string, string>;
  stopSignal: string | undefined;
}

export interface PullOptions {
  auth?: RegistryAuth;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
}

export interface PullResult {
  image: ImageInfo;
  /** The manifest digest the registry served (`sha256:…`), to pin as `repository@digest`. */
  digest: string | undefined;
}

export interface ImportOptions {
  /** `repository` or `repository:tag` the imported image gets. */
  reference: string;
  /** Dockerfile instructions applied to the image: `CMD ["httpd", "-f"]`, `ENV A=b`, `HEALTHCHECK …`. */
  changes?: readonly string[];
  signal?: AbortSignal;
}

const nanos = z.number().optional();
const toMs = (value: number | undefined) => (value ? value / 1e6 : undefined);

const inspectSchema = z.object({
  Id: z.string(),
  RepoTags: z.array(z.string()).nullish(),
  RepoDigests: z.array(z.string()).nullish(),
  Created: z.string(),
  Size: z.number(),
  Config: z
    .object({
      User: z.string().nullish(),
      Env: z.array(z.string()).nullish(),
      Cmd: z.array(z.string()).nullish(),
      Entrypoint: z.array(z.string()).nullish(),
      WorkingDir: z.string().nullish(),
      ExposedPorts: z.record(z.string(), z.unknown()).nullish(),
      Healthcheck: z
        .object({
          Test: z.array(z.string()).nullish(),
          Interval: nanos,
          Timeout: nanos,
          StartPeriod: nanos,
          Retries: z.number().optional(),
        })
        .nullish(),
      Labels: z.record(z.string(), z.string()).nullish(),
      StopSignal: z.string().nullish(),
    })
    .nullish(),
});

const distributionSchema = z.object({
  Descriptor: z.object({ digest: z.string().regex(/^sha256:[a-f0-9]{64}$/) }),
});

const PORT = /^(\d+)\/(tcp|udp|sctp)$/;

export class Images {
  constructor(private readonly transport: EngineTransport) {}

  /** The image as the engine holds it; NoSuchImageError when it is not here. */
  async inspect(reference: string, signal?: AbortSignal): Promise<ImageInfo> {
    const raw = await this.transport.json(inspectSchema, {
      method: 'GET',
      path: `/images/${reference}/json`,
      signal,
      failure: (answer) => noSuchImage(reference, answer),
    });
    const config = raw.Config ?? {};
    const health = config.Healthcheck;
    return {
      id: raw.Id,
      repoTags: raw.RepoTags ?? [],
      repoDigests: raw.RepoDigests ?? [],
      created: raw.Created,
      size: raw.Size,
      user: config.User ?? '',
      env: config.Env ?? [],
      cmd: config.Cmd ?? undefined,
      entrypoint: config.Entrypoint ?? undefined,
      workingDir: config.WorkingDir ?? '',
      exposedPorts: Object.keys(config.ExposedPorts ?? {}).flatMap((key) => {
        const match = PORT.exec(key);
        return match
          ? [{ port: Number(match[1]), protocol: match[2] as ExposedPort['protocol'] }]
          : [];
      }),
      healthcheck:
        health?.Test == null
          ? undefined
          : {
              test: health.Test,
              intervalMs: toMs(health.Interval),
              timeoutMs: toMs(health.Timeout),
              startPeriodMs: toMs(health.StartPeriod),
              retries: health.Retries || undefined,
            },
      labels: config.Labels ?? {},
      stopSignal: config.StopSignal ?? undefined,
    };
  }

  /**
   * Pulls one image (a bare name means `:latest`, never every tag) and returns it with the
   * digest the registry served. A failure, also one reported inside the 200 stream, is an
   * ImageTagNotFoundError, RegistryUnauthorizedError, RegistryUnreachableError or
   * ImageTransferError; the password never appears in its message.
   */
  async pull(reference: string, options: PullOptions = {}): Promise<PullResult> {
    const wanted = pullReference(reference);
    const header = registryAuthHeader(options.auth, wanted);
    const secrets = authSecrets(options.auth, header);
    const failure = (message: string, statusCode?: number) =>
      registryFailure('pull', wanted, message, { statusCode, secrets });
    const response = await this.transport.open({
      method: 'POST',
      path: '/images/create',
      query: { fromImage: wanted },
      headers: { 'X-Registry-Auth': header },
      signal: options.signal,
      timeoutMs: false,
      secrets,
      failure: (answer) => failure(answer.message, answer.statusCode),
    });
    const outcome = await readTransfer(response, {
      what: `the pull of ${wanted}`,
      signal: options.signal,
      onProgress: options.onProgress,
      failure: (message) => failure(message),
    });
    const image = await this.inspect(wanted, options.signal);
    return { image, digest: parseImageReference(wanted).digest ?? outcome.digest };
  }

  /**
   * The digest the registry serves for `reference` now, without pulling: what the desired
   * state pins (`repository@sha256:…`) so every node runs the same bytes.
   */
  async resolveDigest(
    reference: string,
    options: { auth?: RegistryAuth; signal?: AbortSignal } = {},
  ): Promise<string> {
    const wanted = pullReference(reference);
    const header = registryAuthHeader(options.auth, wanted);
    const secrets = authSecrets(options.auth, header);
    const answer = await this.transport.json(distributionSchema, {
      method: 'GET',
      path: `/distribution/${wanted}/json`,
      headers: { 'X-Registry-Auth': header },
      signal: options.signal,
      secrets,
      failure: (failed) =>
        registryFailure('resolve', wanted, failed.message, {
          statusCode: failed.statusCode,
          secrets,
        }),
    });
    return answer.Descriptor.digest;
  }

  /** Imports a rootfs tar as an image (`docker import`); resolves with the new image id. */
  async import(tar: Readable, options: ImportOptions): Promise<string> {
    const { reference } = options;
    const response = await this.transport.open({
      method: 'POST',
      path: '/images/create',
      query: { fromSrc: '-', repo: reference, changes: options.changes },
      upload: { stream: tar, contentType: 'application/x-tar' },
      signal: options.signal,
    });
    const outcome = await readTransfer(response, {
      what: `the import of ${reference}`,
      signal: options.signal,
      failure: (message) =>
        new EngineError(`cannot import ${reference}: ${message}`, {
          engineMessage: message,
          hint: 'the body must be a tar of a root filesystem; changes are Dockerfile instructions',
        }),
    });
    const id = outcome.lastStatus;
    if (id === undefined || !/^sha256:[a-f0-9]{64}$/.test(id)) {
      throw new EngineError(`the import of ${reference} ended without an image id`, {
        hint: "see dockerd's log",
      });
    }
    return id;
  }

  /** Gives `image` another name, `repository:tag`. */
  async tag(image: string, target: string, signal?: AbortSignal): Promise<void> {
    const { tag } = parseImageReference(target);
    const repository = tag === undefined ? target : target.slice(0, -(tag.length + 1));
    await this.transport.call({
      method: 'POST',
      path: `/images/${image}/tag`,
      query: { repo: repository, tag },
      signal,
      failure: (answer) => noSuchImage(image, answer),
    });
  }

  /**
   * Removes a name of an image, and the image once no name is left (`force`: even when
   * stopped containers use it). EngineConflictError while a container uses it.
   */
  async remove(
    reference: string,
    options: { force?: boolean; signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.transport.call({
      method: 'DELETE',
      path: `/images/${reference}`,
      query: { force: options.force ?? false },
      signal: options.signal,
      failure: (answer) =>
        noSuchImage(reference, answer) ??
        (answer.statusCode === 409
          ? new EngineConflictError(`image ${reference} is in use`, {
              statusCode: 409,
              engineMessage: answer.message,
              hint: 'remove the containers that use it first',
            })
          : undefined),
    });
  }

  /** Pushes `repository:tag` to its registry; resolves with the manifest digest it now has. */
  async push(reference: string, options: PullOptions = {}): Promise<string> {
    const { tag } = parseImageReference(reference);
    const name = tag === undefined ? reference : reference.slice(0, -(tag.length + 1));
    const header = registryAuthHeader(options.auth, reference);
    const secrets = authSecrets(options.auth, header);
    const failure = (message: string, statusCode?: number) =>
      registryFailure('push', reference, message, { statusCode, secrets });
    const response = await this.transport.open({
      method: 'POST',
      path: `/images/${name}/push`,
      query: { tag: tag ?? 'latest' },
      headers: { 'X-Registry-Auth': header },
      signal: options.signal,
      timeoutMs: false,
      secrets,
      failure: (answer) =>
        answer.statusCode === 404
          ? noSuchImage(reference, answer)
          : failure(answer.message, answer.statusCode),
    });
    const outcome = await readTransfer(response, {
      what: `the push of ${reference}`,
      signal: options.signal,
      onProgress: options.onProgress,
      failure: (message) => failure(message),
    });
    if (outcome.digest === undefined) {
      throw failure('the push ended without a digest');
    }
    return outcome.digest;
  }
}

/** A 404 about an image that should be local. */
export function noSuchImage(reference: string, answer: EngineAnswer): EngineError | undefined {
  if (answer.statusCode !== 404) return undefined;
  return new NoSuchImageError(`no image ${reference} on this node`, {
    statusCode: 404,
    engineMessage: answer.message,
    hint: 'pull it first (Flotilla pulls every image a stack names before starting it), or check its name',
  });
}
