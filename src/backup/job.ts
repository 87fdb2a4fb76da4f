// From the stack file to runnable backup jobs: a pure function of the stack, its plan (where
// each service runs, on which ports, with which data dir) and a secret lookup. A service's
// `backup:` is the job named after the service; `backups.jobs` entries keep their key.
// A resolved job holds secret values (the repository password, S3 keys): it is made on the
// node that runs it, like an agent opening its sealed secrets, and never sent anywhere.
import path from 'node:path';
import { z } from 'zod';
import type { Plan, PlacedInstance } from '../plan/plan.ts';
import { defaultPortName } from '../plan/placement.ts';
import {
  InterpolationError,
  references,
  renderTemplate,
  type Reference,
} from '../spec/interpolation.ts';
import { keepSchema, type BackupJob, type Service, type Stack } from '../spec/schema.ts';
import { BackupError } from './backup-error.ts';

const argv = z.array(z.string()).min(1);

export const resolvedJobSchema = z.object({
  name: z.string().min(1),
  stack: z.string().min(1),
  /** The node the job runs on: its service's (first instance's) node, or the one it names. */
  node: z.string().min(1),
  service: z.string().optional(),
  schedule: z.string(),
  /** When to check the repository and restore the latest snapshot into a scratch server. */
  verify: z.string(),
  timezone: z.string(),
  keep: keepSchema,
  target: z.object({
    name: z.string(),
    repository: z.string(),
    password: z.string().min(1),
    env: z.record(z.string(), z.string()),
    cacert: z.string().optional(),
  }),
  source: z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal('postgres'),
      host: z.string(),
      port: z.number().int(),
      user: z.string(),
      database: z.string(),
    }),
    z.object({ kind: z.literal('redis'), host: z.string(), port: z.number().int() }),
    z.object({
      kind: z.literal('files'),
      paths: z.array(z.string()).min(1),
      exclude: z.array(z.string()),
    }),
    z.object({ kind: z.literal('command'), command: argv }),
  ]),
  hooks: z.object({ pre: z.array(argv), post: z.array(argv) }),
  heartbeat: z.string().optional(),
  /** Where hooks and commands run: the stack file's directory. */
  cwd: z.string(),
});
export type ResolvedJob = z.infer<typeof resolvedJobSchema>;
export type SourceKind = ResolvedJob['source']['kind'];

export type SecretLookup = (name: string) => string | undefined;

export interface JobEntry {
  spec: BackupJob | NonNullable<Service['backup']>;
  /** The service whose data it saves, if any. */
  service?: string;
  node?: string;
}

/** Every backup job of the stack by name; a name used twice is an error. */
export function jobEntries(stack: Stack): Map<string, JobEntry> {
  const entries = new Map<string, JobEntry>();
  const add = (name: string, entry: JobEntry) => {
    if (entries.has(name))
      throw new BackupError(
        `two backup jobs are named ${name}`,
        `rename backups.jobs.${name}: service ${name} already has a backup`,
      );
    entries.set(name, entry);
  };
  for (const [name, service] of Object.entries(stack.services))
    if (service.backup) add(name, { spec: service.backup, service: name });
  for (const [name, job] of Object.entries(stack.backups.jobs))
    add(name, { spec: job, service: job.service, node: job.node });
  return entries;
}

export function jobNames(stack: Stack): string[] {
  return [...jobEntries(stack).keys()];
}

/** Secrets the named jobs need: their target's password and env, and their commands. */
export function jobSecretNames(stack: Stack, names: readonly string[]): Set<string> {
  const entries = jobEntries(stack);
  const texts = names.flatMap((name) => {
    const spec = entries.get(name)?.spec;
    const target = spec && stack.backups.targets[spec.to];
    // A command never names a secret: validate refuses it (it would be on a command line).
    return [target?.password ?? '', ...Object.values(target?.env ?? {})];
  });
  const secrets = texts
    .flatMap(references)
    .flatMap((ref) => (ref.kind === 'secret' ? [ref.name] : []));
  return new Set(secrets);
}

export interface ResolveOptions {
  /** Directory of the stack file: relative paths resolve against it. */
  stackDir: string;
}

export function resolveJob(
  stack: Stack,
  plan: Pick<Plan, 'placement' | 'desired'>,
  name: string,
  secret: SecretLookup,
  options: ResolveOptions,
): ResolvedJob {
  const entry = jobEntries(stack).get(name);
  if (!entry) {
    const known = jobNames(stack);
    throw new BackupError(
      `no backup job named ${name}`,
      known.length > 0
        ? `jobs: ${known.join(', ')}`
        : 'declare one with `backup:` on a service or under backups.jobs',
    );
  }
  const { spec } = entry;
  const fail = (message: string, hint?: string) =>
    new BackupError(`backup job ${name}: ${message}`, hint);
  const instance = plan.placement.find((placed) => placed.service === entry.service);
  if (entry.service !== undefined && !instance)
    throw fail(`service ${entry.service} is placed on no node`);
  const node = instance?.node ?? entry.node!;
  const render = (text: string, allowed: 'secrets' | 'all') =>
    renderTemplate(text, (ref) => {
      if (ref.kind === 'secret') {
        const value = secret(ref.name);
        if (value === undefined)
          throw fail(`secret ${ref.name} is not set`, `flotilla secrets set ${ref.name}`);
        return value;
      }
      if (allowed === 'secrets' || !instance)
        throw fail(`\${${describeRef(ref)}} cannot be used here`);
      return resolveRef(ref, stack, plan, instance);
    });
  const target = stack.backups.targets[spec.to];
  if (!target) throw fail(`unknown backup target ${spec.to}`);
  try {
    return resolvedJobSchema.parse({
      name,
      stack: stack.name,
      node,
      service: entry.service,
      schedule: spec.schedule,
      verify: spec.verify,
      timezone: spec.timezone,
      keep: spec.keep,
      target: {
        name: spec.to,
        repository: localRepository(target.repository, options.stackDir),
        password: render(target.password, 'secrets'),
        env: Object.fromEntries(
          Object.entries(target.env).map(([key, value]) => [key, render(value, 'secrets')]),
        ),
        cacert:
          target.cacert === undefined ? undefined : path.resolve(options.stackDir, target.cacert),
      },
      source: resolveSource(spec, instance, fail, (text) => render(text, 'all'), options),
      hooks: { pre: spec.hooks?.pre ?? [], post: spec.hooks?.post ?? [] },
      heartbeat: spec.heartbeat,
      cwd: options.stackDir,
    });
  } catch (error) {
    if (error instanceof InterpolationError) throw fail(error.message, error.hint);
    throw error;
  }
}

/** A relative local repository is relative to the stack file, not to wherever restic runs. */
function localRepository(repository: string, stackDir: string): string {
  const local = /^(local:)?(\.\.?\/.*)$/.exec(repository);
  return local ? `${local[1] ?? ''}${path.resolve(stackDir, local[2]!)}` : repository;
}

function resolveSource(
  spec: JobEntry['spec'],
  instance: PlacedInstance | undefined,
  fail: (message: string, hint?: string) => BackupError,
  render: (text: string) => string,
  options: ResolveOptions,
): unknown {
  switch (spec.kind) {
    case 'postgres':
    case 'redis': {
      if (!instance)
        throw fail(`a ${spec.kind} job names the service it saves`, 'add `service: <name>`');
      const port = Object.values(instance.ports)[0];
      if (port === undefined) throw fail(`service ${instance.service} declares no port`);
      // The job runs on the service's node, so the server is on loopback.
      return spec.kind === 'redis'
        ? { kind: 'redis', host: '127.0.0.1', port }
        : {
            kind: 'postgres',
            host: '127.0.0.1',
            port,
            user: 'postgres',
            database: spec.database ?? 'postgres',
          };
    }
    case 'files':
      return {
        kind: 'files',
        paths: (spec.paths ?? []).map((entry) => path.resolve(options.stackDir, entry)),
        exclude: spec.exclude,
      };
    case 'command':
      return { kind: 'command', command: (spec.command ?? []).map(render) };
  }
}

function describeRef(ref: PlanRef): string {
  return ref.kind === 'service' ? `${ref.service}.${ref.field}` : ref.field;
}

type PlanRef = Exclude<Reference, { kind: 'secret' }>;

/** `${port}`, `${data}`, `${db.host}`… as seen from the job's service instance. */
function resolveRef(
  ref: PlanRef,
  stack: Stack,
  plan: Pick<Plan, 'placement' | 'desired'>,
  self: PlacedInstance,
): string {
  if (ref.kind === 'self') {
    const desired = plan.desired[self.node]!.instances.find((entry) => entry.id === self.instance)!;
    if (ref.field === 'node') return self.node;
    if (ref.field === 'instance') return String(desired.index);
    if (ref.field === 'data') return desired.data_dir;
    return String(self.ports[ref.port ?? defaultPortName(stack.services[self.service]!)!]);
  }
  // Validation guarantees the service exists; prefer an instance on the job's own node.
  const candidates = plan.placement.filter((placed) => placed.service === ref.service);
  const target = candidates.find((placed) => placed.node === self.node) ?? candidates[0]!;
  const host = target.node === self.node ? '127.0.0.1' : target.mesh_address;
  const port = String(target.ports[ref.port ?? defaultPortName(stack.services[ref.service]!)!]);
  if (ref.field === 'host') return host;
  return ref.field === 'port' ? port : `${host}:${port}`;
}
