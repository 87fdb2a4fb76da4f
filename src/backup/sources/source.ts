// What each kind of backup source (postgres, redis, files, command) knows how to do: make a
// snapshot, restore one, and prove one restores (into a scratch server or directory).
import { open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { BackupError } from '../backup-error.ts';
import type { ResolvedJob } from '../job.ts';
import type { Restic, SnapshotLabels } from '../restic.ts';
import type { BackupSummary, Snapshot } from '../restic-output.ts';

export interface SourceContext {
  job: ResolvedJob;
  restic: Restic;
}

export interface Verified {
  /** For a person: "3 tables, 12000 rows". */
  detail: string;
  figures: Record<string, number>;
}

export interface BackupSource {
  backup(context: SourceContext, labels: SnapshotLabels): Promise<BackupSummary>;
  /**
   * What restoring into `into` (what the user passed with --into, if anything) would
   * replace of the live data, for a person; undefined when it only writes something new.
   */
  replaces(job: ResolvedJob, into: string | undefined): string | undefined;
  /** Restores `snapshot`; `into` is what the user passed (--into), if anything. */
  restore(context: SourceContext, snapshot: Snapshot, into: string | undefined): Promise<string>;
  /** Restores `snapshot` somewhere disposable and checks what came back. */
  verify(context: SourceContext, snapshot: Snapshot): Promise<Verified>;
}

/** Tags every snapshot of a job carries, and what its snapshots are found by. */
export function jobTags(job: ResolvedJob): string[] {
  return [`stack=${job.stack}`, `job=${job.name}`, `kind=${job.source.kind}`];
}

/**
 * The extra tag of a safety snapshot: the live data as it was just before a restore
 * replaced it. Retention keeps these as a group of their own (`--group-by tags`), so they
 * never push a job's regular snapshots out.
 */
export const SAFETY_TAG = 'safety';

export function snapshotLabels(job: ResolvedJob, extraTags: string[] = []): SnapshotLabels {
  return { tags: [...jobTags(job), ...extraTags], host: job.node };
}

export function isSafetySnapshot(snapshot: Snapshot): boolean {
  return snapshot.tags?.includes(SAFETY_TAG) ?? false;
}

/**
 * The snapshot `id` (full or short) of the job, or its latest regular one: the latest is
 * never a safety snapshot, or a second `restore` would quietly undo the first.
 */
export async function jobSnapshot({ job, restic }: SourceContext, id?: string): Promise<Snapshot> {
  const snapshots = await restic.snapshots(jobTags(job));
  const found =
    id === undefined
      ? snapshots.filter((snapshot) => !isSafetySnapshot(snapshot)).at(-1)
      : snapshots.find((snapshot) => snapshot.id.startsWith(id));
  if (found) return found;
  if (id === undefined && snapshots.length > 0)
    throw new BackupError(
      `job ${job.name} has only safety snapshots`,
      `name one with --snapshot (flotilla backup list ${job.name}), or make one: flotilla backup run ${job.name}`,
    );
  throw new BackupError(
    id === undefined
      ? `job ${job.name} has no snapshot yet`
      : `job ${job.name} has no snapshot ${id}`,
    id === undefined
      ? `make one: flotilla backup run ${job.name}`
      : `list them: flotilla backup list ${job.name}`,
  );
}

/** `--into` names a path (rather than a service or a database) when it has a slash. */
export function isPath(into: string): boolean {
  return into.includes('/');
}

/** The one file a streamed snapshot (a dump, an RDB, a command's output) holds. */
export function streamedFile(snapshot: Snapshot): string {
  const [file] = snapshot.paths;
  if (file === undefined || snapshot.paths.length !== 1)
    throw new BackupError(`snapshot ${snapshot.short_id} is not a single streamed file`);
  return file;
}

/** Writes a streamed snapshot's file to `into` (a new file, or a new file in a directory). */
export async function dumpToPath(
  { restic }: SourceContext,
  snapshot: Snapshot,
  into: string,
): Promise<string> {
  const file = streamedFile(snapshot);
  const isDir = await stat(into).then(
    (found) => found.isDirectory(),
    () => false,
  );
  const destination = isDir ? path.join(into, path.basename(file)) : into;
  let handle;
  try {
    handle = await open(destination, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new BackupError(`${destination} exists`, 'restore into a new file name');
    throw error;
  }
  try {
    await restic.dumpToFd(snapshot.id, file, handle.fd);
  } catch (error) {
    await rm(destination, { force: true });
    throw error;
  } finally {
    await handle.close();
  }
  return destination;
}
