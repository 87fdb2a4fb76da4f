// The restic driver: one repository (a backup target), every command an argv array with
// the password in a short-lived 0600 file and the target's env (S3 keys) in the child's
// environment only, one command at a time per repository in this process.
import { open } from 'node:fs/promises';
import { BackupError } from './backup-error.ts';
import { baseEnv, failed, run, start, startPipe, type Step } from './child.ts';
import type { ResolvedJob } from './job.ts';
import { withPasswordFile } from './password-file.ts';
import { inRepositoryQueue } from './repository-queue.ts';
import { resticError, ResticError } from './restic-error.ts';
import {
  parseBackupSummary,
  parseForgotten,
  parseLs,
  parseSnapshots,
  parseVersion,
  type BackupSummary,
  type LsNode,
  type Snapshot,
} from './restic-output.ts';

/** How long a command waits for another process's lock on the repository, retrying. */
const LOCK_WAIT_MS = 120_000;
const LOCK_RETRY_FIRST_MS = 250;
const LOCK_RETRY_MAX_MS = 5_000;

export interface ResticTarget {
  name: string;
  repository: string;
  password: string;
  /** Extra environment for restic: AWS_ACCESS_KEY_ID and friends. */
  env: Record<string, string>;
  /** PEM file of the CA that signs the endpoint's certificate. */
  cacert?: string;
}

/** What a streamed backup reads: a program's stdout, or a file. */
export type StreamSource =
  { kind: 'command'; step: Step; what: string } | { kind: 'file'; path: string };

export interface SnapshotLabels {
  tags: string[];
  host: string;
}

let versionOnce: Promise<[number, number, number]> | undefined;

function resticVersion(): Promise<[number, number, number]> {
  versionOnce ??= run(['restic', 'version'], { env: baseEnv() }).then((result) => {
    if (result.code !== 0) throw resticError(result.stderr);
    return parseVersion(result.stdout);
  });
  return versionOnce;
}

/** restic ≥ 0.17 runs the dump itself and makes no snapshot when it fails. */
async function hasStdinFromCommand(): Promise<boolean> {
  const [major, minor] = await resticVersion();
  return major > 0 || minor >= 17;
}

/** Repositories known to exist, so each process checks (and maybe creates) one only once. */
const known = new Set<string>();

interface ExecOptions {
  stdin?: number;
  /** Added to restic's environment: TZ, or what a command restic runs needs. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

type Exec = (args: string[], options?: ExecOptions) => Promise<string>;

export class Restic {
  constructor(
    readonly target: ResticTarget,
    private readonly cacheDir: string,
  ) {}

  /** Creates the repository when there is none yet (format 2: compressed). */
  async ensureRepository(): Promise<void> {
    if (known.has(this.target.repository)) return;
    await this.queued(async (exec) => {
      try {
        await exec(['cat', 'config']);
      } catch (error) {
        if (!(error instanceof ResticError && error.failure === 'missing')) throw error;
        // Another process may create it at the same moment: then its config is there.
        await exec(['init', '--repository-version', '2']).catch(async (initError: unknown) => {
          await exec(['cat', 'config']).catch(() => Promise.reject(initError));
        });
      }
    });
    known.add(this.target.repository);
  }

  /**
   * Backs up a stream as one file named `filename`. When a command's stdout is the stream
   * and the command fails, restic 0.14 has still committed a snapshot of what it got: that
   * snapshot is forgotten again and the backup fails.
   */
  async backupStream(
    source: StreamSource,
    filename: string,
    labels: SnapshotLabels,
  ): Promise<BackupSummary> {
    const args = ['backup', '--json', '--quiet', '--stdin-filename', filename, ...label(labels)];
    if (source.kind === 'file') {
      const file = await open(source.path, 'r');
      try {
        return parseBackupSummary(
          await this.queued((exec) => exec([...args, '--stdin'], { stdin: file.fd })),
        );
      } finally {
        await file.close();
      }
    }
    if (await hasStdinFromCommand()) {
      return parseBackupSummary(
        await this.queued((exec) =>
          exec([...args, '--stdin-from-command', '--', ...source.step.argv], {
            env: source.step.options.env,
            cwd: source.step.options.cwd,
          }),
        ),
      );
    }
    return this.queued(async (exec, env) => {
      const { from: dump, to: restic } = startPipe(source.step, {
        argv: ['restic', ...this.globalArgs(), ...args, '--stdin'],
        options: { env },
      });
      const [dumpExit, resticExit] = await Promise.all([dump.done, restic.done]);
      const dumpFailed = failed(source.what, dumpExit, dump.stderr());
      if (resticExit.code !== 0) {
        // Which failed first? A repository problem stops the dump (a broken pipe); a dump
        // that failed by itself leaves restic an empty stream, which restic 0.14 refuses.
        const error = resticError(restic.stderr());
        const dumpFailedAlone =
          error.failure === 'other' && dumpExit.code !== 0 && dumpExit.signal !== 'SIGPIPE';
        if (dumpFailedAlone) throw new BackupError(`${dumpFailed}; nothing was saved`);
        throw error;
      }
      const summary = parseBackupSummary(restic.stdout());
      if (dumpExit.code === 0) return summary;
      await exec(['forget', summary.snapshot_id]);
      throw new BackupError(
        `${dumpFailed}; its partial snapshot ${summary.snapshot_id} was removed`,
      );
    });
  }

  async backupPaths(
    paths: string[],
    exclude: string[],
    labels: SnapshotLabels,
  ): Promise<BackupSummary> {
    const excludes = exclude.flatMap((pattern) => ['--exclude', pattern]);
    return parseBackupSummary(
      await this.queued((exec) =>
        exec(['backup', '--json', '--quiet', ...label(labels), ...excludes, '--', ...paths]),
      ),
    );
  }

  /** Snapshots carrying every one of `tags`, oldest first. */
  async snapshots(tags: string[]): Promise<Snapshot[]> {
    return parseSnapshots(
      await this.queued((exec) => exec(['snapshots', '--json', '--tag', tags.join(',')])),
    );
  }

  /**
   * Applies GFS retention to the snapshots carrying `tags` (one group, whatever the host),
   * counting days and weeks in `timezone`, and prunes what no snapshot uses any more.
   * Returns the snapshots it removed.
   */
  async applyRetention(
    keep: ResolvedJob['keep'],
    tags: string[],
    timezone: string,
  ): Promise<Snapshot[]> {
    const policy = Object.entries(keep).flatMap(([bucket, count]) =>
      count === undefined || count === 0 ? [] : [`--keep-${bucket}`, String(count)],
    );
    // No policy means keep everything (restic would refuse to forget without one).
    if (policy.length === 0) return [];
    const args = ['forget', '--json', '--quiet', '--prune', '--group-by', 'tags'];
    return parseForgotten(
      await this.queued((exec) =>
        exec([...args, '--tag', tags.join(','), ...policy], { env: { TZ: timezone } }),
      ),
    );
  }

  /** Checks the repository's structure and reads back `subset` of its data ("10%"). */
  async check(subset: string): Promise<void> {
    await this.queued((exec) => exec(['check', '--read-data-subset', subset]));
  }

  async ls(snapshot: string): Promise<LsNode[]> {
    return parseLs(await this.queued((exec) => exec(['ls', '--json', snapshot])));
  }

  /** Restores the snapshot's files under `target` (their full paths recreated there). */
  async restore(snapshot: string, target: string): Promise<void> {
    await this.queued((exec) => exec(['restore', snapshot, '--target', target]));
  }

  /** Writes one file of a snapshot to the open file descriptor `fd`. */
  async dumpToFd(snapshot: string, file: string, fd: number): Promise<void> {
    await this.queued(async (_exec, env) => {
      const restic = start(['restic', ...this.globalArgs(), 'dump', snapshot, file], {
        env,
        stdout: fd,
      });
      if ((await restic.done).code !== 0) throw resticError(restic.stderr());
    });
  }

  /** Streams one file of a snapshot into a program's stdin (pg_restore). */
  async dumpInto(snapshot: string, file: string, consumer: Step, what: string): Promise<void> {
    await this.queued(async (_exec, env) => {
      const { from: restic, to: reader } = startPipe(
        { argv: ['restic', ...this.globalArgs(), 'dump', snapshot, file], options: { env } },
        consumer,
      );
      const [resticExit, readerExit] = await Promise.all([restic.done, reader.done]);
      // restic killed by SIGPIPE: the reader stopped reading, and its error says why.
      if (resticExit.code !== 0 && resticExit.signal !== 'SIGPIPE')
        throw resticError(restic.stderr());
      if (readerExit.code !== 0) throw new BackupError(failed(what, readerExit, reader.stderr()));
    });
  }

  private globalArgs(): string[] {
    return [
      '--cache-dir',
      this.cacheDir,
      ...(this.target.cacert === undefined ? [] : ['--cacert', this.target.cacert]),
    ];
  }

  /** Runs `work` holding the repository, with a password file for its restic commands. */
  private queued<T>(work: (exec: Exec, env: NodeJS.ProcessEnv) => Promise<T>): Promise<T> {
    return inRepositoryQueue(this.target.repository, () =>
      withPasswordFile(this.target.password, (passwordFile) => {
        const env = baseEnv({
          ...this.target.env,
          RESTIC_REPOSITORY: this.target.repository,
          RESTIC_PASSWORD_FILE: passwordFile,
        });
        let lockWaited = 0;
        const exec: Exec = async (args, options = {}) => {
          for (let wait = LOCK_RETRY_FIRST_MS; ; wait = Math.min(wait * 1.5, LOCK_RETRY_MAX_MS)) {
            const started = Date.now();
            const result = await run(['restic', ...this.globalArgs(), ...args], {
              env: { ...options.env, ...env },
              cwd: options.cwd,
              stdin: options.stdin ?? 'ignore',
            });
            if (result.code === 0) return result.stdout;
            const error = resticError(result.stderr);
            // Removed behind our back: check (and create) it again next time.
            if (error.failure === 'missing') known.delete(this.target.repository);
            // Another process (an agent's scheduled backup, another node) holds the lock, and
            // restic 0.14 does not wait for it. A command fed from a stream cannot be rerun.
            const retry = error.failure === 'locked' && options.stdin === undefined;
            if (!retry || (lockWaited += Date.now() - started + wait) > LOCK_WAIT_MS) throw error;
            await new Promise((resolve) => setTimeout(resolve, wait));
          }
        };
        return work(exec, env);
      }),
    );
  }
}

function label({ tags, host }: SnapshotLabels): string[] {
  return ['--host', host, '--tag', tags.join(',')];
}
