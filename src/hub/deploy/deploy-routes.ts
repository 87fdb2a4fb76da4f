// The hub API of releases and deploys: upload a bundle, deploy or roll back (a stream of
// steps, then the result; the deploy goes on in the hub if the client goes away), list a
// service's releases, and the deploy history from the audit log.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { EventStream } from '../../bus/events.ts';
import { MAX_BUNDLE_BYTES } from '../../release/bundle.ts';
import { releaseSchema, releaseSourceSchema, SHA256_HEX } from '../../release/release-record.ts';
import { deployStream as deployEvents, releasesAnswerSchema } from '../api/answers.ts';
import { busEventSchema } from '../../protocol/events.ts';
import { ApiError, defineRoute, type ApiResult, type ApiRoute } from '../api/api-route.ts';
import type { Hub } from '../hub.ts';
import { DeployError } from './deploy-error.ts';
import type { Deployer, Progress } from './deployer.ts';

/** What the CLI says of an upload, base64 JSON in the `x-flotilla-release` header. */
export const uploadMetaSchema = z.object({
  sha256: z.string().regex(SHA256_HEX),
  files: z.number().int().nonnegative(),
  source: releaseSourceSchema,
  by: z.string().min(1).max(200),
  message: z.string().max(500).optional(),
});
export type UploadMeta = z.infer<typeof uploadMetaSchema>;
export const UPLOAD_META_HEADER = 'x-flotilla-release';

const deployBodySchema = z.strictObject({
  release: z.number().int().positive().optional(),
  message: z.string().max(500).optional(),
  force: z.string().min(1).max(500).optional(),
  by: z.string().min(1).max(200),
});
type DeployBody = Omit<z.infer<typeof deployBodySchema>, 'release'>;

/** A deploy's failure as the CLI shows it. */
export interface DeployFailure {
  step: string;
  error: string;
  node?: string;
  instance?: string;
  output?: string[];
  hint?: string;
}

function failureOf(error: unknown): DeployFailure {
  if (!(error instanceof DeployError)) return { step: 'deploy', error: (error as Error).message };
  const { node, instance, output, hint } = error.details;
  return {
    step: error.step,
    error: error.message,
    ...(node !== undefined && { node }),
    ...(instance !== undefined && { instance }),
    ...(output !== undefined && { output }),
    ...(hint !== undefined && { hint }),
  };
}

/** A deploy as a stream: `step` lines, then `done` (the result) or `failed`. */
function deployStream(work: (progress: Progress) => Promise<unknown>): ApiResult {
  return {
    events: async (send) => {
      const progress: Progress = (line) => send('step', line);
      try {
        send('done', await work(progress));
      } catch (error) {
        send('failed', failureOf(error));
      }
    },
  };
}

/** Refusals before anything changed are plain HTTP errors (with the hint), not a stream. */
async function refusedEarly<T>(work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DeployError)
      throw new ApiError(error.details.status ?? 400, error.message, failureOf(error));
    throw error;
  }
}

export function deployRoutes(
  deployer: () => Deployer,
  hub: () => Hub,
  events: () => EventStream,
): ApiRoute[] {
  const service = (name: string) => {
    if (!hub().stack?.services[name])
      throw new ApiError(404, `no service named ${name} in the stack`);
    return name;
  };
  return [
    defineRoute({
      method: 'POST',
      path: '/api/v1/services/:name/releases',
      scope: 'operate',
      summary: `Upload a release bundle (bytes; what it is in the ${UPLOAD_META_HEADER} header)`,
      raw: { maxBytes: MAX_BUNDLE_BYTES },
      response: z.object({
        release: releaseSchema,
        existing: z.boolean(),
        current: z.number().int().nullable(),
      }),
      handle: async ({ params, body, headers }) => {
        const name = service(params.name!);
        const header = headers[UPLOAD_META_HEADER];
        let meta: UploadMeta;
        try {
          meta = uploadMetaSchema.parse(
            JSON.parse(Buffer.from(String(header), 'base64').toString('utf8')),
          );
        } catch {
          throw new ApiError(400, `the ${UPLOAD_META_HEADER} header is missing or invalid`);
        }
        const data = body as Buffer;
        const sha256 = createHash('sha256').update(data).digest('hex');
        if (data.length === 0 || sha256 !== meta.sha256)
          throw new ApiError(
            400,
            `the upload is not the bundle announced (sha256 ${sha256.slice(0, 12)}, announced ${meta.sha256.slice(0, 12)}): it was cut short or changed on the way`,
          );
        const { release, existing } = await refusedEarly(() =>
          deployer().addRelease(
            name,
            { sha256, bytes: data.length, files: meta.files, data },
            {
              source: meta.source,
              by: meta.by,
              ...(meta.message !== undefined && { message: meta.message }),
            },
          ),
        );
        return { json: { release, existing, current: deployer().state(name).current ?? null } };
      },
    }),
    ...(['deploy', 'rollback'] as const).map((verb) =>
      defineRoute({
        method: 'POST',
        path: `/api/v1/services/:name/${verb}`,
        scope: 'operate',
        summary:
          verb === 'deploy'
            ? 'Deploy a release of a service (the newest, or `release`); its steps as server-sent events'
            : 'Roll a service back to its previous release (or `release`); its steps as server-sent events',
        body: deployBodySchema,
        stream: deployEvents,
        handle: async ({ params, body }) => {
          const name = service(params.name!);
          await refusedEarly(() => deployer().deployable(name));
          return deployStream((progress) =>
            deployer()[verb](name, body.release, options(body), progress),
          );
        },
      }),
    ),
    defineRoute({
      method: 'POST',
      path: '/api/v1/rollback',
      scope: 'operate',
      summary: 'Roll the whole stack back to what ran before the last deploy (server-sent events)',
      body: deployBodySchema.omit({ release: true }),
      stream: deployEvents,
      handle: async ({ body }) =>
        deployStream((progress) => deployer().rollbackStack(options(body), progress)),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/services/:name/releases',
      scope: 'read',
      summary: "A service's releases, the current one, where each runs, and the deploy lock",
      response: releasesAnswerSchema,
      handle: async ({ params }) => {
        const name = service(params.name!);
        const state = deployer().state(name);
        const running = new Map<number, string[]>();
        for (const [node, status] of hub().nodeStatuses())
          for (const instance of status.instances)
            if (instance.service === name && instance.release !== undefined)
              running.set(instance.release, [
                ...(running.get(instance.release) ?? []),
                `${instance.id}@${node}`,
              ]);
        return {
          json: {
            service: name,
            current: state.current ?? null,
            releases: state.releases.map((release) => ({
              ...release,
              running: running.get(release.number) ?? [],
            })),
            lock: (await deployer().currentLock()) ?? null,
          },
        };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/deploys',
      scope: 'read',
      summary: 'The deploy history from the audit log (newest `limit`, of one `service` if given)',
      query: z.object({
        limit: z.coerce.number().int().min(1).max(500).default(20),
        service: z.string().optional(),
      }),
      response: z.object({ events: z.array(busEventSchema) }),
      handle: async ({ queryValues }) => {
        const { limit, service: only } = queryValues;
        const records = await events().recent(
          limit,
          (event) =>
            /^(deploy|rollback|release)\./.test(event.type) &&
            (only === undefined || event.service === only),
        );
        return { json: { events: records.map((record) => record.event) } };
      },
    }),
  ];
}

function options(body: DeployBody) {
  return {
    by: body.by,
    ...(body.message !== undefined && { message: body.message }),
    ...(body.force !== undefined && { force: body.force }),
  };
}
