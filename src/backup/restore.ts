// Restoring a job's snapshot (the latest unless one is named): a PostgreSQL dump into the
// service's database or a new one, a Redis dataset into the service, files under a
// directory, a dump or output to a file. Returns what was done, for a person.
import type { ResolvedJob } from './job.ts';
import { sourceContext, type RunOptions } from './run.ts';
import { inRepositoryQueue } from './repository-queue.ts';
import { SOURCES } from './sources/index.ts';
import { jobSnapshot } from './sources/source.ts';

export interface RestoreOptions extends RunOptions {
  snapshot?: string;
  /** A service, a database name (postgres) or a path. */
  into?: string;
}

export async function restoreJob(job: ResolvedJob, options: RestoreOptions): Promise<string> {
  const context = sourceContext(job, options.stateDir);
  // One hold of the repository from choosing the snapshot to restoring it.
  const { snapshot, done } = await inRepositoryQueue(job.target.repository, async () => {
    const snapshot = await jobSnapshot(context, options.snapshot);
    return {
      snapshot,
      done: await SOURCES[job.source.kind].restore(context, snapshot, options.into),
    };
  });
  return `snapshot ${snapshot.short_id} of ${snapshot.time.slice(0, 19).replace('T', ' ')}: ${done}`;
}
