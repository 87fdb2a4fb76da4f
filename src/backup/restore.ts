// Restoring a job's snapshot (the latest unless one is named): a PostgreSQL dump into the
// service's database or a new one, a Redis dataset into the service, files under a
// directory, a dump or output to a file. A restore over live data needs the job's name as
// confirmation and takes a safety snapshot first (restore-guard.ts). Returns what was
// done, for a person, and the safety snapshot.
import { BackupError } from './backup-error.ts';
import type { ResolvedJob } from './job.ts';
import {
  assertConfirmed,
  liveDataReplaced,
  restoreBackCommand,
  takeSafetySnapshot,
} from './restore-guard.ts';
import { sourceContext, type RunOptions } from './run.ts';
import { inRepositoryQueue } from './repository-queue.ts';
import { SOURCES } from './sources/index.ts';
import { jobSnapshot } from './sources/source.ts';

export interface RestoreOptions extends RunOptions {
  snapshot?: string;
  /** A service, a database name (postgres) or a path. */
  into?: string;
  /** The job's name, confirming a restore over live data (`--yes`, or typed at a prompt). */
  confirm?: string;
}

export interface RestoreResult {
  /** What was done, for a person. */
  restored: string;
  /** The snapshot (short id) of the live data taken just before it was replaced. */
  safety?: string;
}

export async function restoreJob(
  job: ResolvedJob,
  options: RestoreOptions,
): Promise<RestoreResult> {
  assertConfirmed(job, options.into, options.confirm);
  const context = sourceContext(job, options.stateDir);
  // One hold of the repository from choosing the snapshot to restoring it.
  return inRepositoryQueue(job.target.repository, async () => {
    const snapshot = await jobSnapshot(context, options.snapshot);
    const safety =
      liveDataReplaced(job, options.into) === undefined
        ? undefined
        : (await takeSafetySnapshot(context)).snapshot_id.slice(0, 8);
    let done: string;
    try {
      done = await SOURCES[job.source.kind].restore(context, snapshot, options.into);
    } catch (error) {
      if (safety === undefined) throw error;
      // A restore that failed halfway (Redis is flushed first) may have changed the data.
      throw new BackupError(
        `${(error as Error).message} (the data as it was before is in safety snapshot ${safety})`,
        `${error instanceof BackupError && error.hint !== undefined ? `${error.hint}; ` : ''}to put it back: ${restoreBackCommand(job.name, safety, options.into)}`,
      );
    }
    const restored = `snapshot ${snapshot.short_id} of ${snapshot.time.slice(0, 19).replace('T', ' ')}: ${done}`;
    return safety === undefined ? { restored } : { restored, safety };
  });
}
