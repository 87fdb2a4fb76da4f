// Bad targets fail with one clear line that names the job and a hint, and change nothing:
// no repository is created at an address that cannot be reached or parsed, and a wrong
// password never re-initialises the repository it could not open.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../src/backup/run.ts';
import { freePort } from '../helpers/ports.ts';
import { restic, snapshots } from './fixtures/restic-cli.ts';
import { jobsStack, resolveJobs } from './fixtures/stack.ts';

const RIGHT = 'the-right-password';
const WRONG = 'not-the-password';

let dir: string;

const stack = (repository: string) =>
  jobsStack('bad', `{ repository: '${repository}', password: '\${secret:PW}' }`, {
    notes: `kind: command, command: [echo, notes], schedule: '0 2 * * *'`,
  });

const job = (repository: string, password: string) =>
  resolveJobs(stack(repository), dir, { PW: password }, ['notes'])[0]!;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-backup-bad-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a bad repository or password', () => {
  it('an unreachable S3 endpoint: a clear error naming the job, nothing created', async () => {
    const stateDir = path.join(dir, 'unreachable');
    const event = await runBackup(
      job(`s3:https://127.0.0.1:${await freePort()}/backups/x`, RIGHT),
      {
        stateDir,
      },
    );
    expect(event).toMatchObject({
      type: 'backup.failed',
      message: 'backup notes failed: cannot reach the repository',
      data: {
        job: 'notes',
        hint: "check the target's repository URL (host and port) and that the endpoint is up",
      },
    });
    // No figures were recorded: the state dir holds restic's cache directory at most.
    expect(await readdir(path.join(stateDir, 'backups')).catch(() => [])).not.toContain(
      'notes.json',
    );
  });

  it('a repository URL restic cannot parse: a clear error, nothing created', async () => {
    const event = await runBackup(job('s3:https://', RIGHT), { stateDir: dir });
    expect(event.message).toBe(
      'backup notes failed: restic does not understand the repository URL',
    );
    expect(event.data.hint).toBe('write s3:https://host/bucket/path or a local path');
  });

  it('a wrong password: a clear error, and the repository is neither changed nor re-created', async () => {
    const repository = path.join(dir, 'repo');
    expect((await runBackup(job(repository, RIGHT), { stateDir: dir })).type).toBe(
      'backup.succeeded',
    );
    const repo = { repository, password: RIGHT };
    const [before, config] = await Promise.all([snapshots(repo), restic(repo, ['cat', 'config'])]);

    const event = await runBackup(job(repository, WRONG), { stateDir: dir });
    expect(event.message).toBe('backup notes failed: wrong password for the repository');
    expect(event.data.hint).toContain('password');
    expect(JSON.stringify(event)).not.toContain(WRONG);
    expect(await snapshots(repo)).toEqual(before);
    expect(await restic(repo, ['cat', 'config'])).toBe(config);
  }, 30_000);
});
