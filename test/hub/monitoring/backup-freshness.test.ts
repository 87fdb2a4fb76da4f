// A backup job's health as the hub judges it from the job's events and its schedule: a
// failed run or verify is down at once; a slot with no success after it (past the time a
// run may take) is down; slots from before the hub watched say nothing.
import { describe, expect, it } from 'vitest';
import type { BackupEvent } from '../../../src/backup/events.ts';
import {
  backupOutcome,
  recordBackupEvent,
  type BackupRecord,
} from '../../../src/hub/monitoring/backup-freshness.ts';

const NIGHTLY = { cron: '0 2 * * *', timezone: 'UTC' };
const at = (iso: string) => Date.parse(iso);

function event(type: BackupEvent['type'], time: string, extra: Partial<BackupEvent['data']> = {}) {
  return {
    type,
    at: at(time),
    node: 'db',
    message: `${type} nightly`,
    data: { job: 'nightly', kind: 'postgres', target: 'r2', duration_ms: 4_000, ...extra },
  } satisfies BackupEvent;
}

describe('backup freshness', () => {
  const watched = at('2026-11-01T00:00:00Z');

  it('is up after the night’s run succeeded, and down the next night when none did', () => {
    const record = recordBackupEvent(
      {},
      event('backup.succeeded', '2026-12-01T02:00:05Z', { bytes_added: 1_000 }),
    );
    expect(record).toMatchObject({ lastBytes: 1_000, lastDurationMs: 4_000 });
    expect(backupOutcome(NIGHTLY, record, watched, at('2026-12-01T12:00:00Z')).ok).toBe(true);
    // Within the hour a run may take after its 02:00 slot: not yet missing.
    expect(backupOutcome(NIGHTLY, record, watched, at('2026-12-02T02:30:00Z')).ok).toBe(true);
    const missed = backupOutcome(NIGHTLY, record, watched, at('2026-12-02T03:30:00Z'));
    expect(missed).toEqual({
      ok: false,
      detail:
        'no successful backup since the run due at 2026-12-02T02:00:00.000Z (schedule 0 2 * * *)',
    });
  });

  it('is down at once when the last run or verify failed, and up after the next success', () => {
    let record: BackupRecord = recordBackupEvent(
      {},
      event('backup.succeeded', '2026-12-01T02:00:05Z'),
    );
    record = recordBackupEvent(
      record,
      event('backup.failed', '2026-12-01T09:00:00Z', {
        error: 'pg_dump exited 1',
        hint: 'is postgres up?',
      }),
    );
    const now = at('2026-12-01T09:00:01Z');
    expect(backupOutcome(NIGHTLY, record, watched, now)).toEqual({
      ok: false,
      detail: 'the last backup failed: pg_dump exited 1: is postgres up?',
    });
    record = recordBackupEvent(record, event('backup.succeeded', '2026-12-01T09:05:00Z'));
    expect(backupOutcome(NIGHTLY, record, watched, now + 600_000).ok).toBe(true);
    record = recordBackupEvent(
      record,
      event('backup.verify_failed', '2026-12-01T10:00:00Z', { error: 'row count differs' }),
    );
    expect(backupOutcome(NIGHTLY, record, watched, at('2026-12-01T10:00:01Z')).detail).toBe(
      'the last verify failed: row count differs',
    );
  });

  it('says nothing about a slot before the hub started watching', () => {
    const since = at('2026-12-01T12:00:00Z');
    expect(backupOutcome(NIGHTLY, {}, since, at('2026-12-01T13:00:00Z'))).toEqual({
      ok: true,
      detail: 'no run yet',
    });
    expect(backupOutcome(NIGHTLY, {}, since, at('2026-12-02T04:00:00Z')).ok).toBe(false);
  });

  it('gives a frequent job half its period to run, not an hour', () => {
    const everyTenMinutes = { cron: '*/10 * * * *', timezone: 'UTC' };
    const record = recordBackupEvent({}, event('backup.succeeded', '2026-12-01T10:00:30Z'));
    expect(backupOutcome(everyTenMinutes, record, watched, at('2026-12-01T10:14:00Z')).ok).toBe(
      true,
    );
    expect(backupOutcome(everyTenMinutes, record, watched, at('2026-12-01T10:16:00Z')).ok).toBe(
      false,
    );
  });
});
