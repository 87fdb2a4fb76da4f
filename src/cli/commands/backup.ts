// `flotilla backup`: run a job now (or all of them), list snapshots with their figures,
// restore one, verify the latest by restoring it into a scratch server. Every run prints
// its event; any failure names the job, gives a hint where there is one, and exits 1. A
// restore over live data needs --yes (or the job's name typed at the terminal): without
// it, exit 2 and nothing changes; with it, the safety snapshot taken first is named.
import { createInterface } from 'node:readline/promises';
import { BackupError } from '../../backup/backup-error.ts';
import { formatBytes, type BackupEvent } from '../../backup/events.ts';
import { jobNames, jobSecretNames, resolveJob, type ResolvedJob } from '../../backup/job.ts';
import { listSnapshots, type SnapshotRow } from '../../backup/list.ts';
import { restoreJob, type RestoreResult } from '../../backup/restore.ts';
import {
  assertConfirmed,
  ConfirmationRequired,
  liveDataReplaced,
  restoreBackCommand,
} from '../../backup/restore-guard.ts';
import { runBackup } from '../../backup/run.ts';
import { verifyJob } from '../../backup/verify.ts';
import type { BackupAnswer, BackupRequest } from '../../backup/node-backups.ts';
import { readEndpoint } from '../../hub/api-endpoint.ts';
import { HubClient, HubRequestFailed } from '../hub-client.ts';
import { planStack } from '../../plan/plan.ts';
import { SecretStore } from '../../secrets/store.ts';
import type { CommandSpec } from '../command.ts';
import { UsageError } from '../usage.ts';
import { table, toJson, writeLine, type Output } from '../output.ts';
import { loadStackOrReport, type LoadedStack } from '../stack-file.ts';

const USAGE = `flotilla backup run <job>|--all [-f flotilla.yml]
       flotilla backup list [job] [--json]
       flotilla backup restore <job> [--snapshot ID] [--into <service|database|path>] [--yes]
       flotilla backup verify <job>|--all`;

/** The named jobs (every job when `name` is undefined), resolved with their secrets. */
async function resolveJobs(loaded: LoadedStack, name: string | undefined): Promise<ResolvedJob[]> {
  const { stack, dir, stateDir } = loaded;
  const names = name === undefined ? jobNames(stack) : [name];
  const needed = jobSecretNames(stack, names);
  // Opening the store creates the hub's identity: only when a secret is needed.
  const secrets =
    needed.size === 0
      ? new Map<string, string>()
      : await (await SecretStore.open(stateDir)).values(needed);
  const plan = planStack(stack, { stackDir: dir, stateDir });
  return names.map((job) =>
    resolveJob(stack, plan, job, (secret) => secrets.get(secret), { stackDir: dir }),
  );
}

/** The job's name in front of its failure's message. */
async function naming<T>(job: ResolvedJob, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (!(error instanceof BackupError)) throw error;
    throw new BackupError(`job ${job.name}: ${error.message}`, error.hint);
  }
}

function printEvent(event: BackupEvent, output: Output): boolean {
  const ok = event.type === 'backup.succeeded' || event.type === 'backup.verified';
  if (ok) {
    writeLine(output.out, `${output.color.green('✓')} ${event.message}`);
    if (event.data.heartbeat !== undefined && event.data.heartbeat !== 'ok')
      writeLine(output.err, `  heartbeat ${event.data.heartbeat}`);
    return true;
  }
  writeLine(output.err, `${output.color.red('✗')} ${event.message}`);
  if (event.data.hint !== undefined) writeLine(output.err, `  hint: ${event.data.hint}`);
  return false;
}

function snapshotTable(rows: SnapshotRow[], output: Output): string {
  const bytes = (value: number | undefined) => (value === undefined ? '-' : formatBytes(value));
  const verified = (row: SnapshotRow) =>
    row.verified === undefined
      ? '-'
      : row.verified.ok
        ? `yes (${row.verified.detail})`
        : output.color.red(`FAILED: ${row.verified.detail}`);
  return table(
    [
      ['TIME', 'JOB', 'SNAPSHOT', 'SIZE', 'ADDED', 'VERIFIED'],
      ...rows.map((row) => [
        row.time.slice(0, 19).replace('T', ' '),
        row.safety ? `${row.job} (safety)` : row.job,
        row.snapshot,
        bytes(row.bytes_processed),
        bytes(row.bytes_added),
        verified(row),
      ]),
    ],
    output.color.dim,
  );
}

/**
 * A multi-node stack's jobs run on the node where the data lives: the CLI asks the running
 * hub, which asks that node's agent. undefined for a single-node stack (run here).
 */
async function hubOfCluster(loaded: LoadedStack): Promise<HubClient | undefined> {
  if (Object.keys(loaded.stack.nodes).length < 2) return undefined;
  const endpoint = await readEndpoint(loaded.stateDir);
  if (!endpoint)
    throw new BackupError(
      `stack ${loaded.stack.name} has no hub running here`,
      'in a multi-node stack, run backup commands on the hub node while `flotilla hub` runs',
    );
  return new HubClient(endpoint);
}

/** The job's name if the restore is confirmed: by --yes, or typed at the terminal. */
async function confirmation(
  job: ResolvedJob,
  into: string | undefined,
  yes: boolean,
  output: Output,
): Promise<string | undefined> {
  if (yes) return job.name;
  const replaced = liveDataReplaced(job, into);
  if (replaced === undefined || !process.stdin.isTTY) return undefined;
  const prompt = createInterface({ input: process.stdin, output: output.err });
  // Ctrl-D or Ctrl-C at the prompt is a no (the question alone would wait forever).
  const closed = new AbortController();
  prompt.once('close', () => closed.abort());
  prompt.once('SIGINT', () => prompt.close());
  try {
    const question = `restoring ${job.name} replaces ${replaced} (a safety snapshot of it is taken first).\ntype the job name to go on: `;
    return (await prompt.question(question, { signal: closed.signal })).trim();
  } catch (error) {
    if (closed.signal.aborted) return undefined;
    throw error;
  } finally {
    prompt.close();
  }
}

function onItsNode(
  hub: HubClient,
  job: ResolvedJob,
  request: Omit<BackupRequest, 'job'>,
): Promise<BackupAnswer> {
  // A restore replaces data: its own route, which needs the admin scope.
  const path = `/api/v1/backups/${encodeURIComponent(job.name)}`;
  return hub.post<BackupAnswer>(request.action === 'restore' ? `${path}/restore` : path, request);
}

export const backupCommand: CommandSpec = {
  usage: USAGE,
  options: {
    file: { type: 'string', short: 'f' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
    snapshot: { type: 'string' },
    into: { type: 'string' },
    yes: { type: 'boolean', short: 'y' },
  },
  positionals: {
    verbs: { run: ['[job]'], list: ['[job]'], restore: ['<job>'], verify: ['[job]'] },
  },
  async run({ values, positionals }, output: Output) {
    // main checked the verb and its words against `positionals` above.
    const [verb, name] = positionals as ['run' | 'list' | 'restore' | 'verify', string?];
    const all = values.all === true;
    if (verb === 'restore' && all) throw new UsageError('restore takes one job, not --all');
    if ((verb === 'run' || verb === 'verify') && (name !== undefined) === all)
      throw new UsageError(`${verb} takes one job or --all`);
    const loaded = await loadStackOrReport(values.file as string | undefined, output, {
      secrets: 'skip',
    });
    if (!loaded) return 1;
    const options = { stateDir: loaded.stateDir };
    try {
      const hub = await hubOfCluster(loaded);
      const jobs = await resolveJobs(loaded, name);
      if (jobs.length === 0 && verb !== 'list') {
        writeLine(output.out, `no backup jobs in ${loaded.file}`);
        return 0;
      }
      if (verb === 'list') {
        const rows = (
          await Promise.all(jobs.map((job) => naming(job, listSnapshots(job, options))))
        ).flat();
        if (values.json) writeLine(output.out, toJson(rows));
        else if (rows.length === 0)
          writeLine(output.out, 'no snapshots yet: flotilla backup run --all');
        else writeLine(output.out, snapshotTable(rows, output));
        return 0;
      }
      if (verb === 'restore') {
        const job = jobs[0]!;
        const into = values.into as string | undefined;
        const confirm = await confirmation(job, into, values.yes === true, output);
        // The node checks again; checking here too spares asking it for a sure refusal.
        assertConfirmed(job, into, confirm);
        const request = { snapshot: values.snapshot as string | undefined, into, confirm };
        const result = hub
          ? ((await onItsNode(hub, job, { action: 'restore', ...request })) as RestoreResult)
          : await naming(job, restoreJob(job, { ...options, ...request }));
        writeLine(output.out, `${output.color.green('✓')} restore ${name}: ${result.restored}`);
        if (result.safety !== undefined)
          writeLine(
            output.out,
            `  safety snapshot ${result.safety} holds the data as it was before; to put it back: ${restoreBackCommand(job.name, result.safety, into)}`,
          );
        return 0;
      }
      let failures = 0;
      for (const job of jobs) {
        const event = hub
          ? ((await onItsNode(hub, job, { action: verb })) as { event: BackupEvent }).event
          : await (verb === 'run' ? runBackup(job, options) : verifyJob(job, options));
        if (!printEvent(event, output)) failures += 1;
      }
      return failures === 0 ? 0 : 1;
    } catch (error) {
      if (
        !(error instanceof BackupError || error instanceof HubRequestFailed) &&
        (error as NodeJS.ErrnoException).code === undefined
      )
        throw error;
      writeLine(output.err, `flotilla backup ${verb}: ${(error as Error).message}`);
      if (error instanceof BackupError && error.hint !== undefined)
        writeLine(output.err, `hint: ${error.hint}`);
      return error instanceof ConfirmationRequired ? 2 : 1;
    }
  },
};
