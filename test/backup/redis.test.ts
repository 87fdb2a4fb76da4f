// Redis backups against a real redis-server and restic 0.14 (local repository): BGSAVE
// until LASTSAVE moves, the RDB into restic, every key (of every type, in two databases,
// with its TTL) back after a restore into the running server.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedJob } from '../../src/backup/job.ts';
import { LocalRedis } from '../../src/backup/local-redis.ts';
import { redisClient } from '../../src/backup/redis-client.ts';
import { restoreJob } from '../../src/backup/restore.ts';
import { runBackup } from '../../src/backup/run.ts';
import { verifyJob } from '../../src/backup/verify.ts';
import { freePort } from '../helpers/ports.ts';
import { snapshots } from './fixtures/restic-cli.ts';
import { resolveJobs } from './fixtures/stack.ts';

const PASSWORD = 'redis-repo-password';
const KEYS_PER_DB = 1000;

let dir: string;
let server: LocalRedis;
let client: Redis;
let job: ResolvedJob;

async function populate(): Promise<void> {
  for (const db of [0, 3]) {
    await client.select(db);
    const pipeline = client.pipeline();
    for (let i = 0; i < KEYS_PER_DB / 5; i++) {
      pipeline.set(`s:${i}`, `value ${i} in ${db} ✓`);
      pipeline.hset(`h:${i}`, { a: String(i), b: `b${i * db}` });
      pipeline.rpush(`l:${i}`, 'x', String(i), 'z');
      pipeline.sadd(`set:${i}`, 'm1', `m${i}`);
      pipeline.zadd(`z:${i}`, i, 'one', i * 2, 'two');
    }
    for (let i = 0; i < 20; i++) pipeline.expire(`s:${i}`, 3600);
    await pipeline.exec();
  }
  await client.select(0);
}

/** Every key of both databases with its value and whether it expires. */
async function fingerprint(): Promise<string[]> {
  const entries: string[] = [];
  for (const db of [0, 3]) {
    await client.select(db);
    for (const key of (await client.keys('*')).sort()) {
      const type = await client.type(key);
      const value =
        type === 'string'
          ? await client.get(key)
          : type === 'hash'
            ? await client.hgetall(key)
            : type === 'list'
              ? await client.lrange(key, 0, -1)
              : type === 'set'
                ? (await client.smembers(key)).sort()
                : await client.zrange(key, 0, -1, 'WITHSCORES');
      entries.push(`${db} ${key} ${type} ${JSON.stringify(value)} ${(await client.ttl(key)) > 0}`);
    }
  }
  await client.select(0);
  return entries;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-backup-redis-'));
  const port = await freePort();
  server = await LocalRedis.create({ port });
  await server.start();
  client = await redisClient({ path: server.socket });
  await populate();
  const yaml = `
name: cache
services:
  redis:
    run: { command: [redis-server] }
    ports: { main: ${port} }
    backup: { kind: redis, schedule: '*/5 * * * *', to: disk }
backups:
  targets:
    disk: { repository: ${dir}/repo, password: '\${secret:PW}' }
`;
  [job] = resolveJobs(yaml, dir, { PW: PASSWORD }, ['redis']) as [ResolvedJob];
}, 30_000);

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const repo = () => ({ repository: `${dir}/repo`, password: PASSWORD });

describe('a Redis backup', () => {
  let original: string[];

  it('has the server write a fresh RDB (LASTSAVE moves) and backs that file up', async () => {
    original = await fingerprint();
    expect(original).toHaveLength(2 * KEYS_PER_DB);
    const lastSave = await client.lastsave();
    const event = await runBackup(job, { stateDir: dir });
    expect(event).toMatchObject({
      type: 'backup.succeeded',
      data: { job: 'redis', kind: 'redis' },
    });
    expect(await client.lastsave()).toBeGreaterThan(lastSave);
    const rdb = await readFile(path.join(server.dir, 'dump.rdb'));
    expect(event.data.bytes_processed).toBe(rdb.length);
    const [snapshot] = await snapshots(repo());
    expect(snapshot).toMatchObject({ short_id: event.data.snapshot, paths: ['/dump.rdb'] });
  }, 30_000);

  it('restores every key into the running server, replacing what is there', async () => {
    await client.flushall();
    await client.set('junk', 'written after the backup');
    const done = await restoreJob(job, { stateDir: dir, confirm: 'redis' });
    expect(done.restored).toContain(`restored ${2 * KEYS_PER_DB} keys into redis`);
    expect(done.safety).toMatch(/^[0-9a-f]{8}$/);
    expect(await fingerprint()).toEqual(original);
    expect(await client.exists('junk')).toBe(0);
  }, 30_000);

  it('verify loads the latest RDB (not the safety snapshot) into a scratch redis-server and counts its keys', async () => {
    const event = await verifyJob(job, { stateDir: dir });
    expect(event).toMatchObject({
      type: 'backup.verified',
      data: { figures: { keys: 2 * KEYS_PER_DB } },
    });
  }, 30_000);

  it('restores the RDB file to a path, never over an existing file', async () => {
    const target = path.join(dir, 'restored.rdb');
    expect((await restoreJob(job, { stateDir: dir, into: target })).restored).toContain(target);
    const rdb = await readFile(target);
    expect(rdb.subarray(0, 5).toString()).toBe('REDIS');
    await expect(restoreJob(job, { stateDir: dir, into: target })).rejects.toThrow('exists');
  }, 30_000);
});
