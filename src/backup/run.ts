// One backup run of one job, start to finish: pre hooks, the repository (created on first
// use), the source streamed in, GFS retention (`forget --prune`), post hooks, the figures
// recorded, the heartbeat pinged. Never throws: success or failure, the result is the
// event that reports it.
import path from 'node:path';
import { BackupError } from './backup-error.ts';
import { formatBytes, formatSeconds, jobEvent, type BackupEvent } from './events.ts';
import { sendHeartbeat } from './heartbeat.ts';
import { withHooks } from './hooks.ts';
import type { ResolvedJob } from './job.ts';
import { backupsDir, updateJobRecord } from './records.ts';
import { Restic } from './restic.ts';
import { inRepositoryQueue } from './repository-queue.ts';
import { SOURCES } from './sources/index.ts';
import { jobTags, snapshotLabels, type SourceContext } from './sources/source.ts';

export interface RunOptions {
  /** The stack's state dir: records and restic's cache live under it. */
  stateDir: string;
}

export function sourceContext(job: ResolvedJob, stateDir: string): SourceContext {
  return { job, restic: new Restic(job.target, path.join(backupsDir(stateDir), 'cache')) };
}

/** The failure of `job` as an event: a BackupError's message and hint, anything else plainly. */
export function failureEvent(
  job: ResolvedJob,
  type: 'backup.failed' | 'backup.verify_failed',
  what: string,
  error: unknown,
  started: number,
): BackupEvent {
  const message = error instanceof Error ? error.message : String(error);
  const hint = error instanceof BackupError ? error.hint : undefined;
  return jobEvent(job, type, `${what} ${job.name} failed: ${message}`, {
    duration_ms: Date.now() - started,
    error: message,
    ...(hint === undefined ? {} : { hint }),
  });
}

export async function runBackup(job: ResolvedJob, options: RunOptions): Promise<BackupEvent> {
  const started = Date.now();
  try {
    const context = sourceContext(job, options.stateDir);
    const { summary, removed } = await withHooks(job, () =>
      // Backup and retention in one hold of the repository (see repository-queue.ts).
      inRepositoryQueue(job.target.repository, async () => {
        await context.restic.ensureRepository();
        const summary = await SOURCES[job.source.kind].backup(context, snapshotLabels(job));
        const removed = await context.restic.applyRetention(job.keep, jobTags(job), job.timezone);
        return { summary, removed };
      }),
    );
    const durationMs = Date.now() - started;
    await updateJobRecord(options.stateDir, job.name, (record) => {
      record.runs[summary.snapshot_id] = {
        at: started,
        bytes_processed: summary.total_bytes_processed,
        bytes_added: summary.data_added,
        duration_ms: durationMs,
      };
      for (const snapshot of removed) {
        delete record.runs[snapshot.short_id];
        delete record.verified[snapshot.short_id];
      }
    });
    const heartbeat = job.heartbeat && (await sendHeartbeat(job.heartbeat, durationMs));
    return jobEvent(
      job,
      'backup.succeeded',
      `backup ${job.name}: snapshot ${summary.snapshot_id}, ${formatBytes(summary.total_bytes_processed)} read, ${formatBytes(summary.data_added)} added in ${formatSeconds(durationMs)}`,
      {
        duration_ms: durationMs,
        snapshot: summary.snapshot_id,
        bytes_processed: summary.total_bytes_processed,
        bytes_added: summary.data_added,
        forgotten: removed.length,
        ...(heartbeat ? { heartbeat } : {}),
      },
    );
  } catch (error) {
    return failureEvent(job, 'backup.failed', 'backup', error, started);
  }
}
