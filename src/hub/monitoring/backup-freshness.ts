// Is a backup job healthy? Its last run failed, its last verify failed, or no success came
// after the last slot its schedule should have run (allowing for the run to take a while).
// Pure: the hub feeds it what the backup events said.
import type { BackupEvent } from '../../backup/events.ts';
import { previousFireTime } from '../../spec/formats.ts';

/** What the hub has heard about one job (ms since epoch). */
export interface BackupRecord {
  lastSuccessAt?: number;
  lastFailureAt?: number;
  lastError?: string;
  lastVerifyAt?: number;
  lastVerifyFailedAt?: number;
  verifyError?: string;
  /** Of the last success: what restic added, how long it took. */
  lastBytes?: number;
  lastDurationMs?: number;
}

export function recordBackupEvent(record: BackupRecord, event: BackupEvent): BackupRecord {
  const { at, data } = event;
  const error = [data.error, data.hint].filter(Boolean).join(': ') || event.message;
  switch (event.type) {
    case 'backup.succeeded':
      return {
        ...record,
        lastSuccessAt: at,
        lastDurationMs: data.duration_ms,
        ...(data.bytes_added === undefined ? {} : { lastBytes: data.bytes_added }),
      };
    case 'backup.failed':
      return { ...record, lastFailureAt: at, lastError: error };
    case 'backup.verified':
      return { ...record, lastVerifyAt: at };
    case 'backup.verify_failed':
      return { ...record, lastVerifyFailedAt: at, verifyError: error };
  }
}

/** A run may take this long after its slot before it counts as missing (at most). */
const MAX_GRACE_MS = 60 * 60_000;

export interface BackupSchedule {
  cron: string;
  timezone: string;
}

/**
 * `since`: when the hub started watching this job; a slot before it says nothing (the hub
 * may simply not have heard of runs before it started).
 */
export function backupOutcome(
  schedule: BackupSchedule,
  record: BackupRecord,
  since: number,
  now: number,
): { ok: boolean; detail: string } {
  const success = record.lastSuccessAt ?? 0;
  if ((record.lastFailureAt ?? 0) > success)
    return { ok: false, detail: `the last backup failed: ${record.lastError}` };
  if ((record.lastVerifyFailedAt ?? 0) > (record.lastVerifyAt ?? 0))
    return { ok: false, detail: `the last verify failed: ${record.verifyError}` };
  const previous = previousFireTime(schedule.cron, schedule.timezone, now);
  const before = previousFireTime(schedule.cron, schedule.timezone, previous);
  const grace = Math.min(MAX_GRACE_MS, (previous - before) / 2);
  // The slot whose run should be over by now.
  const due = now - previous >= grace ? previous : before;
  if (due >= since && success < due)
    return {
      ok: false,
      detail: `no successful backup since the run due at ${new Date(due).toISOString()} (schedule ${schedule.cron})`,
    };
  return {
    ok: true,
    detail:
      record.lastSuccessAt === undefined
        ? 'no run yet'
        : `last success ${new Date(record.lastSuccessAt).toISOString()}`,
  };
}
