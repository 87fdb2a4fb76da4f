// PostgreSQL backups end to end against real parts: a PostgreSQL 15 server, restic 0.14,
// and s3rver over HTTPS as the S3 endpoint. Data survives backup → drop → restore to the
// last row; a dump that fails (nothing listening, or killed mid-way) leaves no snapshot.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedJob } from '../../src/backup/job.ts';
import { listSnapshots } from '../../src/backup/list.ts';
import { LocalPostgres } from '../../src/backup/local-postgres.ts';
import { restoreJob } from '../../src/backup/restore.ts';
import { runBackup } from '../../src/backup/run.ts';
import { verifyJob } from '../../src/backup/verify.ts';
import { freePort } from '../helpers/ports.ts';
import { checksums, createData, ROWS } from './fixtures/pg-data.ts';
import { checkAll, snapshots, type Repository } from './fixtures/restic-cli.ts';
import { startS3rver, type S3Endpoint } from './fixtures/s3rver.ts';
import { resolveJobs } from './fixtures/stack.ts';

const PASSWORD = 'correct horse battery staple';

let dir: string;
let s3: S3Endpoint;
let db: LocalPostgres;
let heartbeats: http.Server;
const pings: string[] = [];
let job: ResolvedJob;
let ghost: ResolvedJob;
let untrusted: ResolvedJob;
let repo: Repository;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-backup-pg-'));
  [s3, db] = await Promise.all([startS3rver(), LocalPostgres.start({ port: await freePort() })]);
  await createData(db);
  heartbeats = http.createServer((request, response) => {
    pings.push(request.url ?? '');
    response.end('ok');
  });
  await new Promise<void>((resolve) => heartbeats.listen(0, '127.0.0.1', resolve));
  const heartbeatPort = (heartbeats.address() as { port: number }).port;
  const yaml = `
name: shop
services:
  db:
    run: { command: [postgres] }
    ports: { main: ${db.port} }
    backup:
      kind: postgres
      schedule: '0 2 * * *'
      to: s3
      heartbeat: http://127.0.0.1:${heartbeatPort}/api/push/token123
  ghost:
    run: { command: [postgres] }
    ports: { main: ${await freePort()} }
    backup: { kind: postgres, schedule: '0 2 * * *', to: s3 }
backups:
  targets:
    s3:
      repository: s3:${s3.url}/backups/shop
      password: \${secret:RESTIC_PASSWORD}
      env:
        AWS_ACCESS_KEY_ID: \${secret:S3_KEY}
        AWS_SECRET_ACCESS_KEY: \${secret:S3_SECRET}
      cacert: ${s3.caFile}
`;
  const secrets = {
    RESTIC_PASSWORD: PASSWORD,
    S3_KEY: s3.env.AWS_ACCESS_KEY_ID,
    S3_SECRET: s3.env.AWS_SECRET_ACCESS_KEY,
  };
  [job, ghost] = resolveJobs(yaml, dir, secrets, ['db', 'ghost']) as [ResolvedJob, ResolvedJob];
  // The same target without its CA: what a self-hosted endpoint looks like before `cacert`.
  [untrusted] = resolveJobs(yaml.replace(/ +cacert: .*\n/, ''), dir, secrets, ['db']) as [
    ResolvedJob,
  ];
  repo = {
    repository: `s3:${s3.url}/backups/shop`,
    password: PASSWORD,
    env: s3.env,
    cacert: s3.caFile,
  };
}, 60_000);

afterAll(async () => {
  await Promise.all([db?.stop(), s3?.stop()]);
  await new Promise((resolve) => heartbeats?.close(resolve));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const options = () => ({ stateDir: dir });

describe('a PostgreSQL backup to S3 (s3rver over HTTPS)', () => {
  let original: Record<string, string>;

  it('streams pg_dump into a new repository and reports its figures', async () => {
    original = await checksums(db);
    const event = await runBackup(job, options());
    expect(event.message).not.toContain('failed');
    expect(event).toMatchObject({
      type: 'backup.succeeded',
      node: 'local',
      service: 'db',
      data: { job: 'db', kind: 'postgres', target: 's3', heartbeat: 'ok', forgotten: 0 },
    });
    expect(event.data.snapshot).toMatch(/^[0-9a-f]{8}$/);
    expect(event.data.bytes_processed).toBeGreaterThan(500_000);
    expect(event.data.bytes_added).toBeGreaterThan(50_000);
    expect(event.data.duration_ms).toBeGreaterThan(0);

    const found = await snapshots(repo);
    expect(found.map((snapshot) => snapshot.short_id)).toEqual([event.data.snapshot]);
    expect(found[0]!.paths).toEqual(['/postgres.pgdump']);
    expect(found[0]!.tags).toEqual(['stack=shop', 'job=db', 'kind=postgres']);
    // The packs went through s3rver, into its bucket directory.
    const bucket = await readdir(path.join(path.dirname(s3.caFile), 'data', 'backups'));
    expect(bucket.length).toBeGreaterThan(0);
    expect(pings).toHaveLength(1);
    expect(pings[0]).toMatch(/^\/api\/push\/token123\?status=up&msg=OK&ping=\d+$/);
  }, 60_000);

  it('restores into the service after the tables are dropped, identical to the row', async () => {
    await db.query('DROP TABLE events; DROP TABLE orders; DROP TABLE customers;');
    await expect(checksums(db)).rejects.toThrow(/does not exist/);
    const done = await restoreJob(job, { ...options(), confirm: 'db' });
    expect(done.restored).toContain('restored database postgres of db');
    expect(done.safety).toMatch(/^[0-9a-f]{8}$/);
    expect(await checksums(db)).toEqual(original);
  }, 60_000);

  it('restores into a new database by name, and refuses an existing one', async () => {
    // A new database replaces nothing: no confirmation, no safety snapshot.
    expect(await restoreJob(job, { ...options(), into: 'copy' })).toEqual({
      restored: expect.stringContaining('restored into the new database copy') as string,
    });
    expect(await checksums(db, 'copy')).toEqual(original);
    await expect(restoreJob(job, { ...options(), into: 'copy' })).rejects.toThrow(
      'database copy already exists',
    );
  }, 60_000);

  it('verify restores the latest snapshot into a scratch PostgreSQL and counts its rows', async () => {
    const event = await verifyJob(job, options());
    const rows = ROWS.customers + ROWS.orders + ROWS.events;
    expect(event).toMatchObject({
      type: 'backup.verified',
      data: { job: 'db', figures: { tables: 3, rows } },
    });
    const [listed] = await listSnapshots(job, options());
    expect(listed).toMatchObject({
      snapshot: event.data.snapshot,
      verified: { ok: true, detail: `3 tables, ${rows} rows` },
    });
    expect(listed?.bytes_processed).toBeGreaterThan(500_000);
  }, 60_000);

  it('a dump from a port where nothing listens fails, naming the job, and leaves no snapshot', async () => {
    const before = await snapshots(repo);
    const event = await runBackup(ghost, options());
    expect(event.type).toBe('backup.failed');
    expect(event.message).toMatch(/^backup ghost failed: pg_dump failed \(exit 1\): .*refused/);
    // restic 0.14 refuses an empty stream; a newer one may save it, and it is removed.
    expect(event.message).toMatch(/nothing was saved$|partial snapshot [0-9a-f]{8} was removed$/);
    expect(await snapshots(repo)).toEqual(before);
    expect(pings).toHaveLength(1);
  }, 60_000);

  it('a dump killed mid-way fails and leaves no snapshot', async () => {
    // Big enough that the COPY is seen running; it is killed from another session.
    await db.query(
      `CREATE TABLE huge AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS filler
       FROM generate_series(1, 600000) g`,
    );
    const before = await snapshots(repo);
    const running = runBackup(job, options());
    let killed = 0;
    for (let attempt = 0; attempt < 3000 && killed === 0; attempt++) {
      const rows = await db.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = 'pg_dump'
         AND query LIKE 'COPY public.huge%' AND pg_terminate_backend(pid)`,
      );
      killed = rows.length;
      if (killed === 0) await sleep(5);
    }
    const event = await running;
    expect(killed).toBe(1);
    expect(event.type).toBe('backup.failed');
    expect(event.message).toMatch(/^backup db failed: pg_dump failed \(exit 1\)/);
    expect(event.message).toMatch(/partial snapshot [0-9a-f]{8} was removed/);
    expect(await snapshots(repo)).toEqual(before);
    expect(pings).toHaveLength(1);
    await db.query('DROP TABLE huge');
  }, 90_000);

  it("an endpoint whose certificate restic does not trust: a hint at the target's cacert", async () => {
    const before = await snapshots(repo);
    const event = await runBackup(untrusted, options());
    expect(event.message).toBe(
      "backup db failed: the repository endpoint's TLS certificate is not trusted",
    );
    expect(event.data.hint).toContain('`cacert`');
    expect(await snapshots(repo)).toEqual(before);
  }, 60_000);

  it('leaves a repository that passes restic check --read-data', async () => {
    expect(await checkAll(repo)).toContain('no errors were found');
  }, 60_000);
});
