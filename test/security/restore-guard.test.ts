// Attack (of a slip, not a villain): `flotilla backup restore db` without --into runs
// `pg_restore --clean` over the live database, and a Redis restore FLUSHALLs the live
// dataset, with nothing to go back to. Refused: without --yes (or the job's name, when the
// hub asks the agent) the CLI exits 2 with a hint and the rows written since the backup
// are still there; with it, a safety snapshot of the live data is taken first, named in
// the output, and restoring it brings those rows back. Real PostgreSQL, Redis and restic.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedJob } from '../../src/backup/job.ts';
import { LocalPostgres } from '../../src/backup/local-postgres.ts';
import { LocalRedis } from '../../src/backup/local-redis.ts';
import { backupRequestSchema, NodeBackups } from '../../src/backup/node-backups.ts';
import { redisClient } from '../../src/backup/redis-client.ts';
import type { RestoreResult } from '../../src/backup/restore.ts';
import { ConfirmationRequired } from '../../src/backup/restore-guard.ts';
import { runBackup } from '../../src/backup/run.ts';
import { snapshots, type Repository } from '../backup/fixtures/restic-cli.ts';
import { resolveJobs } from '../backup/fixtures/stack.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';
import { freePort } from '../helpers/ports.ts';

const PASSWORD = 'restore-guard-password-61d2';

let dir: string;
let file: string;
let env: NodeJS.ProcessEnv;
let db: LocalPostgres;
let redis: LocalRedis;
let client: Redis;
let cacheJob: ResolvedJob;
let repo: Repository;

const backup = (...args: string[]) => flotilla(['backup', ...args, '-f', file], env);

/** The owners in the live table, in id order. */
async function owners(database = 'postgres'): Promise<string[]> {
  const rows = await db.query<{ owner: string }>(
    'SELECT owner FROM accounts ORDER BY id',
    database,
  );
  return rows.map((row) => row.owner);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-restore-guard-'));
  db = await LocalPostgres.start({ port: await freePort() });
  await db.query(
    "CREATE TABLE accounts (id int PRIMARY KEY, owner text); INSERT INTO accounts VALUES (1, 'ada'), (2, 'grace')",
  );
  const redisPort = await freePort();
  redis = await LocalRedis.create({ port: redisPort });
  await redis.start();
  client = await redisClient({ path: redis.socket });
  const yaml = `name: guard
services:
  db:
    run: { command: [postgres, -p, '\${port}'], user: postgres }
    ports: { main: ${db.port} }
    backup: { kind: postgres, schedule: '0 2 * * *', to: disk }
  cache:
    run: { command: [redis-server, --port, '\${port}'] }
    ports: { main: ${redisPort} }
    backup: { kind: redis, schedule: '0 2 * * *', to: disk }
backups:
  targets:
    disk: { repository: ./repo, password: '\${secret:RESTIC_PASSWORD}' }
`;
  file = path.join(dir, 'flotilla.yml');
  await writeFile(file, yaml);
  env = { FLOTILLA_STATE_DIR: path.join(dir, 'state') };
  expect(
    (await flotilla(['secrets', 'set', 'RESTIC_PASSWORD', '-f', file], env, PASSWORD)).code,
  ).toBe(0);
  [cacheJob] = resolveJobs(yaml, dir, { RESTIC_PASSWORD: PASSWORD }, ['cache']) as [ResolvedJob];
  repo = { repository: path.join(dir, 'repo'), password: PASSWORD };
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await Promise.all([db?.stop(), redis?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('restoring over live data', () => {
  it('the CLI refuses without --yes; with it, a named safety snapshot first, which restores the rows back', async () => {
    expect((await backup('run', 'db')).code).toBe(0);
    // Written after the backup: what a careless restore would lose.
    await db.query("INSERT INTO accounts VALUES (3, 'written after the backup')");
    const live = await owners();
    const before = await snapshots(repo);

    const refused = await backup('restore', 'db');
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(
      'flotilla backup restore: restoring db replaces the live database postgres of db: not confirmed, nothing was changed\n' +
        'hint: confirm with --yes (a safety snapshot of the live data is taken first), or restore elsewhere with --into\n',
    );
    expect(await owners()).toEqual(live);
    expect(await snapshots(repo)).toEqual(before);

    const restored = await backup('restore', 'db', '--yes');
    expect(restored.code).toBe(0);
    const named =
      /^ {2}safety snapshot ([0-9a-f]{8}) holds the data as it was before; to put it back: flotilla backup restore db --snapshot \1 --yes$/m.exec(
        restored.stdout,
      );
    expect(named, restored.stdout + restored.stderr).not.toBeNull();
    expect(await owners()).toEqual(['ada', 'grace']);
    const safety = (await snapshots(repo)).find((snapshot) => snapshot.short_id === named![1]);
    expect(safety?.tags).toEqual(['stack=guard', 'job=db', 'kind=postgres', 'safety']);
    const listed = await backup('list', 'db');
    expect(listed.stdout).toMatch(new RegExp(`db \\(safety\\)\\s+${named![1]}`));

    // The command it printed puts back what the restore replaced.
    const back = await backup('restore', 'db', '--snapshot', named![1]!, '--yes');
    expect(back.code).toBe(0);
    expect(await owners()).toEqual(live);
  }, 180_000);

  it('restoring into a new database replaces nothing: no --yes needed, no safety snapshot', async () => {
    const result = await backup('restore', 'db', '--into', 'accounts_copy');
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('safety');
    expect(await owners('accounts_copy')).toEqual(['ada', 'grace']);
  }, 60_000);

  it('a restore that fails still names the safety snapshot, with the command that puts it back', async () => {
    // Created after the backup: pg_restore --clean cannot drop the table under it.
    await db.query('CREATE VIEW owner_names AS SELECT owner FROM accounts');
    try {
      const live = await owners();
      const failed = await backup('restore', 'db', '--yes');
      expect(failed.code).toBe(1);
      const named =
        /^flotilla backup restore: job db: pg_restore failed .* \(the data as it was before is in safety snapshot ([0-9a-f]{8})\)$/m.exec(
          failed.stderr,
        );
      expect(named, failed.stderr).not.toBeNull();
      expect(failed.stderr).toContain(
        `to put it back: flotilla backup restore db --snapshot ${named![1]} --yes\n`,
      );
      // One transaction: nothing of the failed restore stayed.
      expect(await owners()).toEqual(live);
    } finally {
      await db.query('DROP VIEW owner_names');
    }
  }, 60_000);

  it("the agent refuses a hub's request without the job's name, and takes the safety snapshot with it", async () => {
    const node = new NodeBackups({
      stateDir: path.join(dir, 'agent'),
      publish: () => {},
      log: () => {},
    });
    await node.replace([cacheJob]);
    try {
      await client.set('kept', 'in the backup');
      expect((await runBackup(cacheJob, { stateDir: path.join(dir, 'agent') })).type).toBe(
        'backup.succeeded',
      );
      await client.set('late', 'written after the backup');
      // What the daemon's POST /api/v1/backups/cache/restore passes on: a body without `confirm`
      // (an unknown `yes` is no confirmation).
      const bare = backupRequestSchema.parse({ job: 'cache', action: 'restore', yes: true });
      await expect(node.handle(bare)).rejects.toThrow(ConfirmationRequired);
      await expect(node.handle({ ...bare, confirm: 'db' })).rejects.toThrow(
        'restoring cache replaces every key of cache: not confirmed, nothing was changed',
      );
      expect(await client.get('late')).toBe('written after the backup');

      const done = (await node.handle({ ...bare, confirm: 'cache' })) as RestoreResult;
      expect(done.restored).toContain('restored 1 keys into cache');
      expect(await client.exists('late')).toBe(0);
      const back = (await node.handle({
        ...bare,
        snapshot: done.safety!,
        confirm: 'cache',
      })) as RestoreResult;
      expect(back.restored).toContain(`snapshot ${done.safety}`);
      expect(await client.get('late')).toBe('written after the backup');
    } finally {
      await node.stop();
    }
  }, 120_000);
});
