// The backup scheduler on a fake clock: a due job fires once (never twice, however its
// timer wakes), in the job's time zone, never overlapping its own previous run; verify runs
// on its own schedule; stop() stops firing and waits for the run under way.
import { describe, expect, it } from 'vitest';
import { jobEvent, type BackupEvent } from '../../src/backup/events.ts';
import type { ResolvedJob } from '../../src/backup/job.ts';
import { BackupScheduler, type Clock } from '../../src/backup/scheduler.ts';
import { jobsStack, resolveJobs } from './fixtures/stack.ts';

interface Timer {
  id: number;
  at: number;
  callback: () => void;
}

/** Timers that fire only when the test moves time on; `skewMs` makes them wake early/late. */
class FakeClock implements Clock {
  private timers: Timer[] = [];
  private nextId = 1;
  readonly delays: number[] = [];

  constructor(
    public time: number,
    private readonly skewMs = 0,
  ) {}

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    this.delays.push(ms);
    // Time always moves on, by 1 ms at least, as it does for real timers.
    const timer = { id: this.nextId++, at: this.time + Math.max(1, ms + this.skewMs), callback };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  }

  /** Moves to `until`, firing due timers in order and letting what they start settle. */
  async advanceTo(until: number | string): Promise<void> {
    const end = typeof until === 'string' ? Date.parse(until) : until;
    for (;;) {
      const next = this.timers
        .filter((timer) => timer.at <= end)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next) break;
      this.timers = this.timers.filter((timer) => timer !== next);
      this.time = Math.max(this.time, next.at);
      next.callback();
      await settle();
    }
    this.time = end;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

function job(fields: string): ResolvedJob {
  const yaml = jobsStack('sched', '{ repository: /tmp/never-used, password: x }', {
    nightly: `kind: command, command: [echo], ${fields}`,
  });
  return resolveJobs(yaml, '/tmp', {}, ['nightly'])[0]!;
}

/** A scheduler whose runs are recorded (with the fake time they started at). */
function harness(jobs: ResolvedJob[], clock: FakeClock, hold?: Promise<void>) {
  const runs: string[] = [];
  const verifies: string[] = [];
  const events: BackupEvent[] = [];
  const at = () => new Date(clock.now()).toISOString();
  const scheduler = new BackupScheduler({
    jobs,
    clock,
    run: async (resolved) => {
      runs.push(at());
      await hold;
      return jobEvent(resolved, 'backup.succeeded', 'ok', { duration_ms: 1 });
    },
    verify: async (resolved) => {
      verifies.push(at());
      return jobEvent(resolved, 'backup.verified', 'ok', { duration_ms: 1 });
    },
    onEvent: (event) => events.push(event),
  });
  return { scheduler, runs, verifies, events };
}

describe('the backup scheduler', () => {
  it('fires a due job once, not twice, and again at its next slot', async () => {
    const clock = new FakeClock(Date.parse('2026-01-01T01:59:00Z'));
    const { scheduler, runs, events } = harness([job("schedule: '0 2 * * *'")], clock);
    scheduler.start();
    await clock.advanceTo('2026-01-01T01:59:59.999Z');
    expect(runs).toEqual([]);
    await clock.advanceTo('2026-01-01T23:00:00Z');
    expect(runs).toEqual(['2026-01-01T02:00:00.000Z']);
    expect(events.map((event) => event.type)).toEqual(['backup.succeeded']);
    await clock.advanceTo('2026-01-03T03:00:00Z');
    expect(runs).toEqual([
      '2026-01-01T02:00:00.000Z',
      '2026-01-02T02:00:00.000Z',
      '2026-01-03T02:00:00.000Z',
    ]);
    await scheduler.stop();
  });

  it('a timer that wakes early waits again; one that wakes late still fires once', async () => {
    for (const skew of [-1500, 10 * 60_000]) {
      const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'), skew);
      const { scheduler, runs } = harness([job("schedule: '0 2 * * *'")], clock);
      scheduler.start();
      await clock.advanceTo('2026-01-01T12:00:00Z');
      expect(runs).toHaveLength(1);
      expect(Date.parse(runs[0]!)).toBeGreaterThanOrEqual(Date.parse('2026-01-01T02:00:00Z'));
      await scheduler.stop();
    }
  });

  it("follows the job's time zone, across a daylight-saving change", async () => {
    const clock = new FakeClock(Date.parse('2026-03-28T12:00:00Z'));
    const paris = job("schedule: '30 3 * * *', timezone: Europe/Paris");
    const { scheduler, runs } = harness([paris], clock);
    scheduler.start();
    await clock.advanceTo('2026-03-30T12:00:00Z');
    // 03:30 in Paris: UTC+1 before the last Sunday of March, UTC+2 after.
    expect(runs).toEqual(['2026-03-29T01:30:00.000Z', '2026-03-30T01:30:00.000Z']);
    await scheduler.stop();
  });

  it('never overlaps a run still going: the slots it spans are skipped', async () => {
    const clock = new FakeClock(Date.parse('2026-01-01T00:00:30Z'));
    const slow = deferred();
    const { scheduler, runs } = harness([job("schedule: '*/5 * * * *'")], clock, slow.promise);
    scheduler.start();
    await clock.advanceTo('2026-01-01T00:22:00Z');
    expect(runs).toEqual(['2026-01-01T00:05:00.000Z']);
    slow.resolve();
    await settle();
    await clock.advanceTo('2026-01-01T00:30:00Z');
    expect(runs).toEqual([
      '2026-01-01T00:05:00.000Z',
      '2026-01-01T00:25:00.000Z',
      '2026-01-01T00:30:00.000Z',
    ]);
    await scheduler.stop();
  });

  it('runs verify on its own schedule (default: Sundays 04:00)', async () => {
    // 2026-01-03 is a Saturday.
    const clock = new FakeClock(Date.parse('2026-01-03T00:00:00Z'));
    const { scheduler, runs, verifies } = harness([job("schedule: '0 2 * * *'")], clock);
    scheduler.start();
    await clock.advanceTo('2026-01-11T05:00:00Z');
    expect(runs).toHaveLength(9);
    expect(verifies).toEqual(['2026-01-04T04:00:00.000Z', '2026-01-11T04:00:00.000Z']);
    await scheduler.stop();
  });

  it('waits more than 24.8 days in steps Node timers can hold, and fires once', async () => {
    const clock = new FakeClock(Date.parse('2026-02-01T00:00:00Z'));
    const { scheduler, runs } = harness([job("schedule: '0 0 1 1 *', verify: '0 0 1 1 *'")], clock);
    scheduler.start();
    await clock.advanceTo('2027-01-15T00:00:00Z');
    expect(runs).toEqual(['2027-01-01T00:00:00.000Z']);
    expect(Math.max(...clock.delays)).toBeLessThanOrEqual(2 ** 31 - 1);
    await scheduler.stop();
  });

  it('turns a run that throws into a failure event naming the job', async () => {
    const clock = new FakeClock(Date.parse('2026-01-01T01:00:00Z'));
    const events: BackupEvent[] = [];
    const scheduler = new BackupScheduler({
      jobs: [job("schedule: '0 2 * * *'")],
      clock,
      run: () => Promise.reject(new Error('disk on fire')),
      verify: () => Promise.reject(new Error('unused')),
      onEvent: (event) => events.push(event),
    });
    scheduler.start();
    await clock.advanceTo('2026-01-01T03:00:00Z');
    expect(events).toMatchObject([
      {
        type: 'backup.failed',
        message: 'backup nightly failed: disk on fire',
        data: { job: 'nightly', error: 'disk on fire' },
      },
    ]);
    await scheduler.stop();
  });

  it('stop() stops firing and waits for the run under way', async () => {
    const clock = new FakeClock(Date.parse('2026-01-01T01:00:00Z'));
    const slow = deferred();
    const { scheduler, runs, events } = harness(
      [job("schedule: '0 2 * * *'")],
      clock,
      slow.promise,
    );
    scheduler.start();
    await clock.advanceTo('2026-01-01T02:30:00Z');
    expect(runs).toHaveLength(1);
    let stopped = false;
    const stopping = scheduler.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    slow.resolve();
    await stopping;
    expect(events).toHaveLength(1);
    await clock.advanceTo('2026-01-05T00:00:00Z');
    expect(runs).toHaveLength(1);
  });
});
