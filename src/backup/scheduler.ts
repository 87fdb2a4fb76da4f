// Runs each job's backup on its cron `schedule` and its verify on its `verify` schedule, in
// the job's time zone. A run never overlaps the previous run of the same kind for the same
// job: the next fire time is computed when a run ends, so slots that pass while a backup
// is still going are skipped, and a slot fires once however late its timer wakes.
//
// How it is meant to be started — by whatever runs on the node the jobs belong to (the
// agent), once per desired state; it is not wired in yet:
//
//   const jobs = jobNames(stack)
//     .map((name) => resolveJob(stack, plan, name, secretLookup, { stackDir }))
//     .filter((job) => job.node === thisNode);
//   const scheduler = new BackupScheduler({
//     jobs,
//     run: (job) => runBackup(job, { stateDir }),
//     verify: (job) => verifyJob(job, { stateDir }),
//     onEvent: (event) => void events.publish(event), // a BackupEvent is a bus event
//   });
//   scheduler.start();
//   // on shutdown or a new desired state: await scheduler.stop(), then start a new one.
import type { BackupEvent } from './events.ts';
import type { ResolvedJob } from './job.ts';
import { nextFireTime } from '../spec/formats.ts';
import { failureEvent } from './run.ts';

/** Time and timers, injectable so tests control the clock. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface BackupSchedulerOptions {
  jobs: ResolvedJob[];
  run: (job: ResolvedJob) => Promise<BackupEvent>;
  verify: (job: ResolvedJob) => Promise<BackupEvent>;
  onEvent: (event: BackupEvent) => void;
  clock?: Clock;
}

type TaskKind = 'backup' | 'verify';

interface Task {
  job: ResolvedJob;
  kind: TaskKind;
  cron: string;
  timer?: unknown;
}

/** Node's timers overflow past ~24.8 days: a longer wait is taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class BackupScheduler {
  private readonly tasks: Task[];
  private readonly clock: Clock;
  private readonly running = new Set<Promise<void>>();
  private started = false;

  constructor(private readonly options: BackupSchedulerOptions) {
    this.clock = options.clock ?? systemClock;
    this.tasks = options.jobs.flatMap((job) => [
      { job, kind: 'backup' as const, cron: job.schedule },
      { job, kind: 'verify' as const, cron: job.verify },
    ]);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const now = this.clock.now();
    for (const task of this.tasks) this.arm(task, now);
  }

  /** Stops firing; resolves once the runs under way have finished. */
  async stop(): Promise<void> {
    this.started = false;
    for (const task of this.tasks) {
      if (task.timer !== undefined) this.clock.clearTimeout(task.timer);
      task.timer = undefined;
    }
    await Promise.all(this.running);
  }

  private arm(task: Task, after: number): void {
    this.wait(task, nextFireTime(task.cron, task.job.timezone, after));
  }

  private wait(task: Task, due: number): void {
    const delay = Math.min(Math.max(due - this.clock.now(), 0), MAX_TIMER_MS);
    task.timer = this.clock.setTimeout(() => this.fire(task, due), delay);
  }

  private fire(task: Task, due: number): void {
    task.timer = undefined;
    if (!this.started) return;
    if (this.clock.now() < due) return this.wait(task, due);
    const work = task.kind === 'backup' ? this.options.run : this.options.verify;
    const run = work(task.job)
      .catch((error: unknown) =>
        failureEvent(
          task.job,
          task.kind === 'backup' ? 'backup.failed' : 'backup.verify_failed',
          task.kind,
          error,
          due,
        ),
      )
      .then((event) => this.options.onEvent(event))
      // A throwing onEvent is the caller's bug, with nowhere left to report it.
      .catch(() => {})
      .finally(() => {
        this.running.delete(run);
        // From the later of now and this slot: the slot just run never fires again.
        if (this.started) this.arm(task, Math.max(this.clock.now(), due));
      });
    this.running.add(run);
  }
}
