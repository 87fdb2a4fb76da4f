// The backup jobs of one node, kept scheduled by its agent: each new desired state brings
// the node's jobs (resolved by the hub, sealed to this node because they carry the
// repository password) and replaces the scheduler when they changed. Runs and verifies
// report through `publish` as bus events.
import { configHash } from '../agent/config-hash.ts';
import type { BackupEvent } from './events.ts';
import type { ResolvedJob } from './job.ts';
import { runBackup } from './run.ts';
import { BackupScheduler } from './scheduler.ts';
import { verifyJob } from './verify.ts';

export interface NodeBackupsOptions {
  /** The node's state dir: backup records and restic's cache live under it. */
  stateDir: string;
  publish: (event: BackupEvent) => void;
  log: (line: string) => void;
}

export class NodeBackups {
  private scheduler: BackupScheduler | undefined;
  private scheduled: string | undefined;

  constructor(private readonly options: NodeBackupsOptions) {}

  /** Schedules exactly these jobs; unchanged jobs keep their scheduler (and running backup). */
  async replace(jobs: readonly ResolvedJob[]): Promise<void> {
    const hash = configHash(jobs);
    if (hash === this.scheduled) return;
    await this.stop();
    this.scheduled = hash;
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
  }

  async stop(): Promise<void> {
    await this.scheduler?.stop();
    this.scheduler = undefined;
    this.scheduled = undefined;
  }
}
