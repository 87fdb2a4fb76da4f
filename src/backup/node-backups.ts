// The backup jobs of the node this daemon runs on, kept scheduled as the stack changes:
// each apply resolves the jobs again (targets, secrets, ports may have changed) and
// replaces the scheduler. Runs and verifies report through `publish` as bus events.
import type { Plan } from '../plan/plan.ts';
import type { SecretStore } from '../secrets/store.ts';
import type { Stack } from '../spec/schema.ts';
import type { BackupEvent } from './events.ts';
import { jobNames, jobSecretNames, resolveJob, type ResolvedJob } from './job.ts';
import { runBackup } from './run.ts';
import { BackupScheduler } from './scheduler.ts';
import { verifyJob } from './verify.ts';

export interface NodeBackupsOptions {
  node: string;
  stateDir: string;
  secrets: SecretStore;
  publish: (event: BackupEvent) => void;
  log: (line: string) => void;
}

export class NodeBackups {
  private scheduler: BackupScheduler | undefined;

  constructor(private readonly options: NodeBackupsOptions) {}

  async update(stack: Stack, plan: Plan, stackDir: string): Promise<void> {
    await this.stop();
    const names = jobNames(stack);
    const values = await this.options.secrets.values(jobSecretNames(stack, names));
    const jobs: ResolvedJob[] = [];
    for (const name of names) {
      try {
        const job = resolveJob(stack, plan, name, (secret) => values.get(secret), { stackDir });
        if (job.node === this.options.node) jobs.push(job);
        else
          this.options.log(
            `backup job ${name} belongs to node ${job.node}: only the hub node's jobs are scheduled yet`,
          );
      } catch (error) {
        this.options.log(`backup job ${name} is not scheduled: ${(error as Error).message}`);
      }
    }
    if (jobs.length === 0) return;
    const runOptions = { stateDir: this.options.stateDir };
    this.scheduler = new BackupScheduler({
      jobs,
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
  }
}
