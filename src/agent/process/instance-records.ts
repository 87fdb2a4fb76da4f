// The on-disk record of each running instance, `<stateDir>/<id>.json`, which lets a
// restarted agent adopt the processes its previous life started instead of starting
// duplicates, and find and stop instances that are no longer desired.
//
// Synchronous on purpose: the record is written right after the spawn, before anything
// else can run, so an agent killed at any moment leaves as small a window as possible in
// which a live process has no record.
import { createHash } from 'node:crypto';
import { constants } from 'node:os';
import { readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const signal = z.custom<NodeJS.Signals>(
  (value) => typeof value === 'string' && value in constants.signals,
  'not a signal name',
);

const instanceRecordSchema = z.object({
  id: z.string(),
  pid: z.number().int().positive(),
  /** /proc/<pid>/stat start time, so a reused PID is never mistaken for the instance. */
  startTime: z.number().int().nonnegative(),
  /** specHash() of what the process was started with. */
  specHash: z.string(),
  startedAt: z.number(),
  restarts: z.number().int().nonnegative(),
  /** How to stop it, kept here so an orphan is stopped the way its service asked. */
  stop: z.object({ signal, timeoutMs: z.number().nonnegative() }),
});

export type InstanceRecord = z.infer<typeof instanceRecordSchema>;

/** What defines the running process: a change to any of these needs a new process. */
export interface ProcessIdentity {
  command: readonly string[];
  cwd: string;
  env: Record<string, string>;
  user?: string | undefined;
}

export function specHash(spec: ProcessIdentity): string {
  const env = Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const identity = JSON.stringify([spec.command, spec.cwd, env, spec.user ?? null]);
  return createHash('sha256').update(identity).digest('hex');
}

function recordPath(stateDir: string, id: string): string {
  return path.join(stateDir, `${id}.json`);
}

function parseRecord(text: string): InstanceRecord | undefined {
  try {
    const parsed = instanceRecordSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The record of instance `id`, or undefined when there is none (or it is unreadable). */
export function readInstanceRecord(stateDir: string, id: string): InstanceRecord | undefined {
  let text: string;
  try {
    text = readFileSync(recordPath(stateDir, id), 'utf8');
  } catch {
    return undefined;
  }
  return parseRecord(text);
}

/** Written to a temporary file and renamed, so a reader never sees half a record. */
export function writeInstanceRecord(stateDir: string, record: InstanceRecord): void {
  const file = recordPath(stateDir, record.id);
  // The spec hash covers secrets in the environment: keep the record private.
  writeFileSync(`${file}.tmp`, JSON.stringify(record), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export function removeInstanceRecord(stateDir: string, id: string): void {
  rmSync(recordPath(stateDir, id), { force: true });
}

/** Every valid record in `stateDir`, e.g. to find instances that are no longer desired. */
export function listInstanceRecords(stateDir: string): InstanceRecord[] {
  let entries: string[];
  try {
    entries = readdirSync(stateDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries
    .filter((entry) => entry.endsWith('.json'))
    .flatMap((entry) => {
      const record = readInstanceRecord(stateDir, entry.slice(0, -'.json'.length));
      return record === undefined ? [] : [record];
    });
}
