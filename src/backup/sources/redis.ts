// Redis: BGSAVE, wait until LASTSAVE moves past the moment we asked, then back up the RDB
// file the server wrote (where CONFIG GET dir/dbfilename say it is). Restoring into the
// running service loads the snapshot into a scratch redis-server and copies every key
// across (DUMP / RESTORE REPLACE) after a FLUSHALL, so the service never stops.
import path from 'node:path';
import type { Redis } from 'ioredis';
import { BackupError } from '../backup-error.ts';
import type { ResolvedJob } from '../job.ts';
import { LocalRedis } from '../local-redis.ts';
import { withRedis, type RedisAddress } from '../redis-client.ts';
import type { Snapshot } from '../restic-output.ts';
import type { SnapshotLabels } from '../restic.ts';
import { dumpToPath, isPath, type BackupSource, type SourceContext } from './source.ts';

const SAVE_TIMEOUT_MS = 30 * 60_000;
const POLL_MS = 100;

type RedisJob = Extract<ResolvedJob['source'], { kind: 'redis' }>;

function redisOf(job: ResolvedJob): RedisJob {
  if (job.source.kind !== 'redis') throw new Error(`${job.name} is not a redis job`);
  return job.source;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

async function configValue(client: Redis, key: string): Promise<string> {
  const [, value] = (await client.config('GET', key)) as string[];
  if (value === undefined) throw new BackupError(`redis answered no ${key} to CONFIG GET`);
  return value;
}

/** Asks for a BGSAVE; false while another save runs (it started before we asked). */
async function requestSave(client: Redis): Promise<boolean> {
  try {
    await client.bgsave();
    return true;
  } catch (error) {
    if (/already in progress/.test((error as Error).message)) return false;
    throw new BackupError(`redis BGSAVE: ${(error as Error).message}`);
  }
}

/** Has the server write a fresh RDB and returns its path. */
async function freshRdb(client: Redis): Promise<string> {
  const file = path.resolve(
    await configValue(client, 'dir'),
    await configValue(client, 'dbfilename'),
  );
  const deadline = Date.now() + SAVE_TIMEOUT_MS;
  const inTime = () => {
    if (Date.now() > deadline) throw new BackupError('redis did not finish BGSAVE in time');
  };
  let before: number;
  do {
    before = await client.lastsave();
    // LASTSAVE counts whole seconds: a save ending within the second it was asked for
    // would leave it unchanged, so ask in a later second.
    while (Date.now() / 1000 < before + 1) await sleep(POLL_MS);
    inTime();
  } while (!(await requestSave(client)));
  for (;;) {
    await sleep(POLL_MS);
    const info = await client.info('persistence');
    if (infoField(info, 'rdb_bgsave_in_progress') === '0') {
      if (infoField(info, 'rdb_last_bgsave_status') === 'err')
        throw new BackupError('redis could not write its RDB file', 'see the redis log');
      if ((await client.lastsave()) > before) return file;
    }
    inTime();
  }
}

/** Keys over every database, from INFO keyspace ("db0:keys=12,expires=0,…"). */
async function keyCount(client: Redis): Promise<number> {
  const keyspace = await client.info('keyspace');
  return [...keyspace.matchAll(/^db\d+:keys=(\d+)/gm)].reduce(
    (sum, match) => sum + Number(match[1]),
    0,
  );
}

/** Replaces the target's whole dataset with the scratch server's, database by database. */
async function copyKeys(from: Redis, address: RedisAddress): Promise<number> {
  const keyspace = await from.info('keyspace');
  const databases = [...keyspace.matchAll(/^db(\d+):/gm)].map((match) => Number(match[1]));
  return withRedis(address, async (to) => {
    await to.flushall();
    let copied = 0;
    for (const db of databases) {
      await from.select(db);
      await to.select(db);
      let cursor = '0';
      do {
        const [next, keys] = await from.scan(cursor, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          const [payload, ttl] = await Promise.all([from.dumpBuffer(key), from.pttl(key)]);
          if (payload === null) continue;
          await to.restore(key, Math.max(ttl, 0), payload, 'REPLACE');
          copied += 1;
        }
      } while (cursor !== '0');
    }
    return copied;
  });
}

/** A scratch redis-server holding the snapshot's dataset, for `use`; then it goes. */
async function withSnapshotLoaded<T>(
  context: SourceContext,
  snapshot: Snapshot,
  use: (client: Redis) => Promise<T>,
): Promise<T> {
  const scratch = await LocalRedis.create();
  try {
    await dumpToPath(context, snapshot, scratch.rdbFile);
    await scratch.start();
    return await withRedis({ path: scratch.socket }, use);
  } finally {
    await scratch.stop();
  }
}

export const redisSource: BackupSource = {
  async backup({ job, restic }: SourceContext, labels: SnapshotLabels) {
    const source = redisOf(job);
    const file = await withRedis(source, freshRdb);
    return restic.backupStream({ kind: 'file', path: file }, 'dump.rdb', labels);
  },

  replaces(job: ResolvedJob, into: string | undefined) {
    // A path gets a new file; any other name is refused by restore.
    if (into !== undefined && into !== job.service) return undefined;
    return `every key of ${job.service ?? 'the service'}`;
  },

  async restore(context: SourceContext, snapshot: Snapshot, into: string | undefined) {
    const { job } = context;
    if (into !== undefined && isPath(into)) {
      const file = await dumpToPath(context, snapshot, into);
      return `wrote the RDB to ${file} (stop Redis, put it in place of its dump.rdb, start it)`;
    }
    if (into !== undefined && into !== job.service)
      throw new BackupError(
        `cannot restore a Redis snapshot into ${into}`,
        `restore into the service (${job.service}) or a path (e.g. ./dump.rdb)`,
      );
    const source = redisOf(job);
    const keys = await withSnapshotLoaded(context, snapshot, (client) => copyKeys(client, source));
    return `restored ${keys} keys into ${job.service} (its previous data was replaced)`;
  },

  async verify(context: SourceContext, snapshot: Snapshot) {
    const keys = await withSnapshotLoaded(context, snapshot, keyCount);
    return { detail: `${keys} keys`, figures: { keys } };
  },
};
