// A job's snapshots as `backup list` shows them: restic's list (the truth about what
// exists) joined with the local record (bytes read and added, verified or not), which
// restic 0.14 does not keep.
import type { ResolvedJob } from './job.ts';
import { readJobRecord, type JobRecord } from './records.ts';
import { sourceContext, type RunOptions } from './run.ts';
import { isSafetySnapshot, jobTags } from './sources/source.ts';

export interface SnapshotRow {
  job: string;
  snapshot: string;
  time: string;
  /** Unknown for snapshots made on another machine (their figures live there). */
  bytes_processed?: number;
  bytes_added?: number;
  verified?: JobRecord['verified'][string];
  /** Taken of the live data just before a restore replaced it. */
  safety?: true;
}

export async function listSnapshots(job: ResolvedJob, options: RunOptions): Promise<SnapshotRow[]> {
  const { restic } = sourceContext(job, options.stateDir);
  const [snapshots, record] = await Promise.all([
    restic.snapshots(jobTags(job)),
    readJobRecord(options.stateDir, job.name),
  ]);
  return snapshots.map((snapshot) => {
    const run = record.runs[snapshot.short_id];
    const verified = record.verified[snapshot.short_id];
    return {
      job: job.name,
      snapshot: snapshot.short_id,
      time: snapshot.time,
      ...(run ? { bytes_processed: run.bytes_processed, bytes_added: run.bytes_added } : {}),
      ...(verified ? { verified } : {}),
      ...(isSafetySnapshot(snapshot) ? { safety: true as const } : {}),
    };
  });
}
