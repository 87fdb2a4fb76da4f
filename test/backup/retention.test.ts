// GFS retention against restic 0.14: snapshots backdated over two years (`restic backup
// --time`), then one real backup, whose `forget --prune` must leave exactly the set an
// independent implementation of restic's keep-daily/weekly/monthly/yearly picks — and
// must not touch another job's snapshots in the same repository.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedJob } from '../../src/backup/job.ts';
import { runBackup } from '../../src/backup/run.ts';
import { restic, snapshots, type Repository } from './fixtures/restic-cli.ts';
import { jobsStack, resolveJobs } from './fixtures/stack.ts';

const KEEP = { daily: 7, weekly: 4, monthly: 6, yearly: 2 };
const DAY = 86_400_000;

let dir: string;
let repo: Repository;
let job: ResolvedJob;

/** ISO 8601 week of a UTC date, e.g. 2025-W01 (its Thursday decides the year). */
function isoWeek(time: Date): string {
  const day = new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate()));
  day.setUTCDate(day.getUTCDate() + 4 - (day.getUTCDay() || 7));
  const firstOfYear = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - firstOfYear) / DAY + 1) / 7);
  return `${day.getUTCFullYear()}-W${week}`;
}

const BUCKETS: Record<keyof typeof KEEP, (time: Date) => string> = {
  daily: (time) => time.toISOString().slice(0, 10),
  weekly: isoWeek,
  monthly: (time) => time.toISOString().slice(0, 7),
  yearly: (time) => time.toISOString().slice(0, 4),
};

/**
 * What GFS keeps: for each policy on its own, walking from the newest snapshot back, the
 * newest snapshot of each of the N most recent buckets (day, ISO week, month, year) that
 * hold one. The result is the union.
 */
function gfs(times: number[], keep: typeof KEEP): Set<number> {
  const newestFirst = [...times].sort((a, b) => b - a);
  const kept = new Set<number>();
  for (const [policy, count] of Object.entries(keep) as [keyof typeof KEEP, number][]) {
    let left = count;
    let lastBucket: string | undefined;
    for (const time of newestFirst) {
      if (left === 0) break;
      const bucket = BUCKETS[policy](new Date(time));
      if (bucket === lastBucket) continue;
      kept.add(time);
      lastBucket = bucket;
      left -= 1;
    }
  }
  return kept;
}

/** Twice a day for the last 8 days, every fourth day to day 36, then every 45 days to 2 years. */
function backdatedTimes(now: number): number[] {
  const today = Math.floor(now / DAY) * DAY;
  const days = [
    ...Array.from({ length: 8 }, (_, index) => index + 1),
    ...Array.from({ length: 7 }, (_, index) => 12 + 4 * index),
    ...Array.from({ length: 16 }, (_, index) => 50 + 45 * index),
  ];
  return days.flatMap((day) => {
    const times = [today - day * DAY + 13 * 3_600_000];
    if (day <= 8) times.push(today - day * DAY + 1 * 3_600_000);
    return times;
  });
}

const resticTime = (time: number) => new Date(time).toISOString().slice(0, 19).replace('T', ' ');

/** Runs `work` over `items`, `limit` at a time. */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<unknown>) {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-backup-retention-'));
  repo = { repository: path.join(dir, 'repo'), password: 'retention' };
  const keep = Object.entries(KEEP).map(([policy, count]) => `${policy}: ${count}`);
  const yaml = jobsStack('keep', `{ repository: ${repo.repository}, password: retention }`, {
    nightly: `kind: command, command: [echo, now], schedule: '0 2 * * *', keep: { ${keep.join(', ')} }`,
  });
  [job] = resolveJobs(yaml, dir, {}, ['nightly']) as [ResolvedJob];
  await restic(repo, ['init', '--repository-version', '2']);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('GFS retention', () => {
  it('keeps exactly the daily/weekly/monthly/yearly set over two years of snapshots', async () => {
    const now = Date.now();
    const times = backdatedTimes(now);
    const tags = 'stack=keep,job=nightly,kind=command';
    await inParallel(times, 3, (time) =>
      restic(
        repo,
        [
          'backup',
          '--stdin',
          '--stdin-filename',
          'nightly.out',
          '--tag',
          tags,
          '--time',
          resticTime(time),
        ],
        String(time),
      ),
    );
    // Another job's snapshot, two years old: no business of this job's retention.
    await restic(
      repo,
      [
        'backup',
        '--stdin',
        '--tag',
        'stack=keep,job=other,kind=command',
        '--time',
        resticTime(times.at(-1)!),
      ],
      'other',
    );
    expect(await snapshots(repo)).toHaveLength(times.length + 1);

    const event = await runBackup(job, { stateDir: dir });
    expect(event.type).toBe('backup.succeeded');

    const remaining = await snapshots(repo);
    const other = remaining.filter((snapshot) => snapshot.tags?.includes('job=other'));
    expect(other).toHaveLength(1);
    const mine = remaining.filter((snapshot) => snapshot.tags?.includes('job=nightly'));
    const fresh = mine.find((snapshot) => snapshot.short_id === event.data.snapshot);
    expect(fresh).toBeDefined();
    const all = [...times, Date.parse(fresh!.time)];
    const expected = gfs(all, KEEP);
    // Sanity of the fixture: every policy has more buckets than it keeps.
    expect(expected.size).toBeGreaterThan(12);
    expect(expected.size).toBeLessThan(all.length - 8);
    const kept = mine.map((snapshot) => Date.parse(snapshot.time)).sort((a, b) => a - b);
    expect(kept).toEqual([...expected].sort((a, b) => a - b));
    expect(event.data.forgotten).toBe(all.length - expected.size);
  }, 120_000);
});
