// The backup jobs of one node, kept scheduled by its agent: each new desired state brings
// the node's jobs (resolved by the hub, sealed to this node because they carry the
// repository password) and replaces the scheduler when they changed. Runs and verifies
// report through `publish` as bus events.
import { z } from 'zod';
import { configHash } from '../state/config-hash.ts';
import { BackupError } from './backup-error.ts';
import type { BackupEvent } from './events.ts';
import type { ResolvedJob } from './job.ts';
import { restoreJob, type RestoreResult } from './restore.ts';
import { runBackup } from './run.ts';
import { BackupScheduler } from './scheduler.ts';
import { verifyJob } from './verify.ts';

/** `flotilla backup run|verify|restore` of a multi-node stack: the hub asks the job's node. */
export const backupRequestSchema = z.object({
  job: z.string(),
  action: z.enum(['run', 'verify', 'restore']),
  snapshot: z.string().optional(),
  into: z.string().optional(),
  /** The job's name: a restore over live data without it is refused here, on the node. */
  confirm: z.string().optional(),
});
export type BackupRequest = z.infer<typeof backupRequestSchema>;

export type BackupAnswer = { event: BackupEvent } | RestoreResult;

export interface NodeBackupsOptions {
  /** The node's state dir: backup records and restic's cache live under it. */
  stateDir: string;
  publish: (event: BackupEvent) => void;
  log: (line: string) => void;
}

export class NodeBackups {
  private scheduler: BackupScheduler | undefined;
  private scheduled: string | undefined;
  private jobs: readonly ResolvedJob[] = [];
  private changes: Promise<void> = Promise.resolve();

  constructor(private readonly options: NodeBackupsOptions) {}

  /**
   * Schedules exactly these jobs; unchanged jobs keep their scheduler (and running backup).
   * Replacing waits for a running backup to end, so callers need not wait: a new desired
   * state must not be held up by a backup. Replacements and stops apply in order.
   */
  replace(jobs: readonly ResolvedJob[]): Promise<void> {
    return this.inOrder(async () => {
      const hash = configHash(jobs);
      if (hash === this.scheduled) return;
      await this.stopScheduler();
      this.scheduled = hash;
      this.jobs = jobs;
      if (jobs.length === 0) return;
      const runOptions = { stateDir: this.options.stateDir };
      this.scheduler = new BackupScheduler({
        jobs: [...jobs],
        run: (job) => runBackup(job, runOptions),
        verify: (job) => verifyJob(job, runOptions),
        onEvent: this.options.publish,
      });
      this.scheduler.start();
      this.options.log(`backups scheduled: ${jobs.map((job) => job.name).join(', ')}`);
    });
  }

  /** Runs one of this node's jobs now; a run or verify is also published like a scheduled one. */
  async handle(request: BackupRequest): Promise<BackupAnswer> {
    const job = this.jobs.find((candidate) => candidate.name === request.job);
    if (!job) throw new BackupError(`backup job ${request.job} does not run on this node`);
    const options = { stateDir: this.options.stateDir };
    if (request.action === 'restore') return restoreJob(job, { ...options, ...request });
    const event = await (request.action === 'run'
      ? runBackup(job, options)
      : verifyJob(job, options));
    this.options.publish(event);
    return { event };
  }

  stop(): Promise<void> {
    return this.inOrder(() => this.stopScheduler());
  }

  private async stopScheduler(): Promise<void> {
    await this.scheduler?.stop();
    this.scheduler = undefined;
    this.scheduled = undefined;
  }

  private inOrder(step: () => Promise<void>): Promise<void> {
    this.changes = this.changes.then(step).catch((error: unknown) => {
      this.options.log(`backups: ${(error as Error).message}`);
    });
    return this.changes;
  }
}
