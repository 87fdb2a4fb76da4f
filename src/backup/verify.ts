// Proving a job's backups restore: `restic check` reads back a sample of the repository's
// data, then the latest snapshot is restored into a scratch PostgreSQL / redis-server /
// directory and checked (tables and row counts, keys, file sizes and checksums). The result
// is recorded, so `backup list` shows which snapshots were verified.
import { formatSeconds, jobEvent, type BackupEvent } from './events.ts';
import type { ResolvedJob } from './job.ts';
import { updateJobRecord } from './records.ts';
import { failureEvent, sourceContext, type RunOptions } from './run.ts';
import { SOURCES } from './sources/index.ts';
import { inRepositoryQueue } from './repository-queue.ts';
import { jobSnapshot } from './sources/source.ts';

/** restic reads back this share of the pack files on each verify. */
const CHECK_SUBSET = '10%';

export async function verifyJob(job: ResolvedJob, options: RunOptions): Promise<BackupEvent> {
  const started = Date.now();
  const context = sourceContext(job, options.stateDir);
  let snapshot: Awaited<ReturnType<typeof jobSnapshot>> | undefined;
  try {
    // The whole verify holds the repository: a backup's retention must not remove the
    // snapshot between choosing it and restoring it.
    const verified = await inRepositoryQueue(job.target.repository, async () => {
      snapshot = await jobSnapshot(context);
      await context.restic.check(CHECK_SUBSET);
      return SOURCES[job.source.kind].verify(context, snapshot);
    });
    if (!snapshot) throw new Error('no snapshot was chosen');
    const durationMs = Date.now() - started;
    const { short_id: id } = snapshot;
    await updateJobRecord(options.stateDir, job.name, (record) => {
      record.verified[id] = { at: started, ok: true, detail: verified.detail };
    });
    return jobEvent(
      job,
      'backup.verified',
      `verify ${job.name}: snapshot ${id} restores (${verified.detail}) in ${formatSeconds(durationMs)}`,
      { duration_ms: durationMs, snapshot: id, figures: verified.figures },
    );
  } catch (error) {
    const event = failureEvent(job, 'backup.verify_failed', 'verify', error, started);
    if (snapshot) {
      const { short_id: id } = snapshot;
      await updateJobRecord(options.stateDir, job.name, (record) => {
        record.verified[id] = { at: started, ok: false, detail: event.data.error ?? '' };
      });
      event.data.snapshot = id;
    }
    return event;
  }
}
