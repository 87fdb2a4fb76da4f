// `flotilla backup` as a user runs it: the password from the secret store, run → list →
// verify → drop → restore on a real PostgreSQL, and the failures a user meets (an unknown
// job, a wrong password) as one line and a hint, exit 1, no stack trace, no secret shown.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalPostgres } from '../../src/backup/local-postgres.ts';
import { flotilla, type CliResult } from '../helpers/flotilla-cli.ts';
import { freePort } from '../helpers/ports.ts';
import { checksums, createData, ROWS } from './fixtures/pg-data.ts';

const PASSWORD = 'cli-restic-password-8d1f';

let dir: string;
let file: string;
let db: LocalPostgres;
let env: NodeJS.ProcessEnv;

const backup = (...args: string[]) => flotilla(['backup', ...args, '-f', file], env);

/** Nothing a user sees may hold the password or look like a stack trace. */
function expectClean(result: CliResult): void {
  const all = result.stdout + result.stderr;
  expect(all).not.toContain(PASSWORD);
  expect(all).not.toMatch(/^\s+at /m);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-backup-cli-'));
  db = await LocalPostgres.start({ port: await freePort() });
  await createData(db);
  file = path.join(dir, 'flotilla.yml');
  await writeFile(
    file,
    `name: clitest
services:
  db:
    run: { command: [postgres, -p, '\${port}'], user: postgres }
    ports: { main: ${db.port} }
    backup: { kind: postgres, schedule: '0 2 * * *', to: disk }
backups:
  targets:
    disk: { repository: ./repo, password: '\${secret:RESTIC_PASSWORD}' }
`,
  );
  env = { FLOTILLA_STATE_DIR: path.join(dir, 'state') };
  const set = await flotilla(['secrets', 'set', 'RESTIC_PASSWORD', '-f', file], env, PASSWORD);
  expect(set.code).toBe(0);
}, 60_000);

afterAll(async () => {
  await db?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('flotilla backup', () => {
  it('run, list, verify, then restore after the data is dropped', async () => {
    const original = await checksums(db);
    const run = await backup('run', 'db');
    expectClean(run);
    expect(run.code).toBe(0);
    const made = /^✓ backup db: snapshot ([0-9a-f]{8}), [\d.]+ [KM]B read, /.exec(run.stdout);
    expect(made).not.toBeNull();
    // ./repo in the stack file: beside it, whatever directory the CLI ran in.
    await expect(stat(path.join(dir, 'repo', 'config'))).resolves.toBeTruthy();

    const verify = await backup('verify', 'db');
    expectClean(verify);
    expect(verify.code).toBe(0);
    const rows = ROWS.customers + ROWS.orders + ROWS.events;
    expect(verify.stdout).toContain(`restores (3 tables, ${rows} rows)`);
    const table = await backup('list');
    expect(table.code).toBe(0);
    const listed = /SNAPSHOT\s+SIZE\s+ADDED\s+VERIFIED\n.* db\s+([0-9a-f]{8})\s+[\d.]+ [KM]B/.exec(
      table.stdout,
    );
    expect(listed?.[1]).toBe(made![1]);
    expect(table.stdout).toContain(`yes (3 tables, ${rows} rows)`);

    await db.query('DROP TABLE events, orders, customers');
    const restore = await backup('restore', 'db', '--yes');
    expectClean(restore);
    expect(restore.code).toBe(0);
    expect(restore.stdout).toMatch(/^✓ restore db: snapshot [0-9a-f]{8} of .*: restored database/);
    expect(await checksums(db)).toEqual(original);
  }, 120_000);

  it('an unknown job: exit 1, the jobs there are as a hint', async () => {
    const result = await backup('run', 'dbb');
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toBe('flotilla backup run: no backup job named dbb\nhint: jobs: db\n');
  }, 30_000);

  it('bad usage exits 2', async () => {
    expect((await backup('run')).code).toBe(2);
    expect((await backup('run', 'db', '--all')).code).toBe(2);
  }, 30_000);

  it('a wrong password: one line naming the job, a hint, exit 1, the repository untouched', async () => {
    const wrong = 'a-wrong-password-for-the-repo';
    await flotilla(['secrets', 'set', 'RESTIC_PASSWORD', '-f', file], env, wrong);
    const result = await backup('run', 'db');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')[0]).toBe(
      '✗ backup db failed: wrong password for the repository',
    );
    expect(result.stderr).toMatch(/^ {2}hint: .*password/m);
    expect(result.stderr + result.stdout).not.toContain(wrong);
    expectClean(result);
    // Back to the right password: the run's snapshot and the restore's safety snapshot
    // are still there, unharmed.
    await flotilla(['secrets', 'rollback', 'RESTIC_PASSWORD', '-f', file], env);
    const listed = await backup('list', '--json');
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { job: 'db', verified: { ok: true }, bytes_processed: expect.any(Number) },
      { job: 'db', safety: true },
    ]);
  }, 60_000);
});
