// bench/backup: a Flotilla PostgreSQL backup (pg_dump -Fc -Z0 streamed into restic, a local
// repository of format 2, compressed) against plain `pg_dump -Fc > file` of the same
// database in the same run, on a generated database of about 300 MB. Goals:
//   - backup wall time ≤ 1.3 × pg_dump -Fc to a file;
//   - a second backup of the unchanged database adds < 2 % of the first's bytes;
//   - one after changing 1 % of the rows adds < 10 %.
// Also measured: restore (restic dump | pg_restore into a new database) against pg_restore
// of the -Fc file, verify, and sizes. A missed goal prints FAIL; only a crash exits non-zero.
//
//   node_modules/.bin/tsx bench/backup.ts
//   BENCH_ROWS=500000 node_modules/.bin/tsx bench/backup.ts   # a smaller database
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { formatBytes } from '../src/backup/events.ts';
import type { ResolvedJob } from '../src/backup/job.ts';
import { LocalPostgres } from '../src/backup/local-postgres.ts';
import { restoreJob } from '../src/backup/restore.ts';
import { runBackup } from '../src/backup/run.ts';
import { verifyJob } from '../src/backup/verify.ts';
import { freePort } from '../test/helpers/ports.ts';
import { resolveJobs } from '../test/backup/fixtures/stack.ts';
import { machineLine, onCleanup, runBench } from './lib/stack.ts';
import { fmt, ratio, table } from './lib/stats.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_200_000);
const GOAL_TIME_RATIO = 1.3;
const GOAL_UNCHANGED = 0.02;
const GOAL_CHANGED = 0.1;

const run = promisify(execFile);

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = performance.now();
  const result = await work();
  return { ms: performance.now() - started, result };
}

/** Bytes under `dir`, every file. */
async function du(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name))).size;
  return total;
}

function pgArgs(db: LocalPostgres, database: string): string[] {
  return ['-h', '127.0.0.1', '-p', String(db.port), '-U', 'postgres', '--dbname', database];
}

/** `pg_dump -Fc … > file`, as a person would run it. */
async function pgDumpToFile(
  db: LocalPostgres,
  file: string,
  extra: string[] = [],
): Promise<number> {
  const handle = await open(file, 'w');
  try {
    const args = ['--format=custom', ...extra, ...pgArgs(db, 'bench')];
    const { ms } = await timed(
      () =>
        new Promise<void>((resolve, reject) => {
          const child = spawn('pg_dump', args, { stdio: ['ignore', handle.fd, 'inherit'] });
          child.once('error', reject);
          child.once('exit', (code) =>
            code === 0 ? resolve() : reject(new Error(`pg_dump exit ${code}`)),
          );
        }),
    );
    return ms;
  } finally {
    await handle.close();
  }
}

async function main(): Promise<void> {
  console.log(await machineLine('backup'));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-bench-backup-'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  const db = await LocalPostgres.start({ port: await freePort() });
  onCleanup(() => db.stop());

  console.log(`generating ${ROWS} rows…`);
  const generated = await timed(() =>
    db.query(`CREATE DATABASE bench`).then(() =>
      db.query(
        `CREATE TABLE items (id bigint PRIMARY KEY, account int NOT NULL, sku text NOT NULL,
           title text NOT NULL, body text, amount numeric(12, 2), created timestamptz);
         INSERT INTO items SELECT g, g % 9973, 'SKU-' || (g % 50000), 'item ' || md5(g::text),
           repeat(md5((g % 977)::text), 1 + g % 3) || ' ' || md5((g * 31)::text),
           (g % 100000) / 7.0, timestamptz '2023-01-01' + g * interval '13 seconds'
           FROM generate_series(1, ${ROWS}) g;
         CREATE INDEX ON items (account);`,
        'bench',
      ),
    ),
  );
  await db.query('VACUUM ANALYZE items', 'bench');
  const [{ size }] = (await db.query<{ size: string }>(
    `SELECT pg_database_size('bench') AS size`,
  )) as [{ size: string }];
  console.log(`database: ${formatBytes(Number(size))} in ${fmt(generated.ms / 1000)} s`);

  const repository = path.join(dir, 'repo');
  const yaml = `
name: bench
services:
  db:
    run: { command: [postgres] }
    ports: { main: ${db.port} }
    backup: { kind: postgres, database: bench, schedule: '0 2 * * *', to: disk, keep: { last: 10 } }
backups:
  targets:
    disk: { repository: ${repository}, password: bench-password }
`;
  const [job] = resolveJobs(yaml, dir, {}, ['db']) as [ResolvedJob];
  const state = { stateDir: path.join(dir, 'state') };
  const backup = async () => {
    const { ms, result } = await timed(() => runBackup(job, state));
    if (result.type !== 'backup.succeeded') throw new Error(result.message);
    console.log(`  ${result.message}`);
    return { ms, added: result.data.bytes_added!, read: result.data.bytes_processed! };
  };

  const dumpFile = path.join(dir, 'bench.dump');
  console.log('pg_dump -Fc > file (1)…');
  const baseline1 = await pgDumpToFile(db, dumpFile);
  const dumpSize = (await stat(dumpFile)).size;
  console.log('flotilla backup (first, new repository)…');
  const first = await backup();
  const repoSize = await du(repository);
  console.log('pg_dump -Fc > file (2)…');
  const baseline2 = await pgDumpToFile(db, dumpFile);
  const baseline = (baseline1 + baseline2) / 2;
  const uncompressedFile = path.join(dir, 'bench.z0.dump');
  const baselineZ0 = await pgDumpToFile(db, uncompressedFile, ['--compress=0']);
  const z0Size = (await stat(uncompressedFile)).size;
  await rm(uncompressedFile);

  console.log('flotilla backup (unchanged)…');
  const unchanged = await backup();
  console.log('changing 1% of the rows, the most recent ones…');
  const recent = Math.floor(ROWS * 0.99);
  await db.query(
    `UPDATE items SET amount = amount + 1, body = body || ' (edited)' WHERE id > ${recent}`,
    'bench',
  );
  const changedRecent = await backup();
  console.log('changing 1% of the rows, spread over the whole table…');
  await db.query(`UPDATE items SET amount = amount + 1 WHERE id % 100 = 37`, 'bench');
  const changedSpread = await backup();

  console.log('restores…');
  await db.query('CREATE DATABASE from_file');
  const plainRestore = await timed(() =>
    run('pg_restore', [...pgArgs(db, 'from_file'), dumpFile], { maxBuffer: 64 << 20 }),
  );
  const flotillaRestore = await timed(() => restoreJob(job, { ...state, into: 'from_backup' }));
  const verify = await timed(() => verifyJob(job, state));
  if (verify.result.type !== 'backup.verified') throw new Error(verify.result.message);
  const [counts] = await db.query<{ rows: string }>(
    'SELECT count(*) AS rows FROM items',
    'from_backup',
  );

  const s = (ms: number) => `${fmt(ms / 1000)} s`;
  const share = (added: number) => `${fmt((100 * added) / first.added)} %`;
  console.log(
    `\ndatabase ${formatBytes(Number(size))}, ${ROWS} rows; restored copy has ${counts?.rows} rows`,
  );
  console.log(
    table([
      ['step', 'time', 'read', 'added', 'added / first', 'vs baseline'],
      ['pg_dump -Fc > file (mean of 2)', s(baseline), formatBytes(dumpSize), '', '', '1×'],
      [
        'pg_dump -Fc -Z0 > file',
        s(baselineZ0),
        formatBytes(z0Size),
        '',
        '',
        ratio(baselineZ0, baseline),
      ],
      [
        'flotilla backup, first',
        s(first.ms),
        formatBytes(first.read),
        formatBytes(first.added),
        '100 %',
        ratio(first.ms, baseline),
      ],
      [
        'flotilla backup, unchanged',
        s(unchanged.ms),
        formatBytes(unchanged.read),
        formatBytes(unchanged.added),
        share(unchanged.added),
        ratio(unchanged.ms, baseline),
      ],
      [
        'flotilla backup, 1% recent rows changed',
        s(changedRecent.ms),
        formatBytes(changedRecent.read),
        formatBytes(changedRecent.added),
        share(changedRecent.added),
        ratio(changedRecent.ms, baseline),
      ],
      [
        'flotilla backup, 1% rows changed, spread',
        s(changedSpread.ms),
        formatBytes(changedSpread.read),
        formatBytes(changedSpread.added),
        share(changedSpread.added),
        ratio(changedSpread.ms, baseline),
      ],
      ['pg_restore -d new < -Fc file', s(plainRestore.ms), '', '', '', '1×'],
      [
        'flotilla restore --into new database',
        s(flotillaRestore.ms),
        '',
        '',
        '',
        ratio(flotillaRestore.ms, plainRestore.ms),
      ],
      [
        'flotilla verify (check 10 % + scratch restore)',
        s(verify.ms),
        '',
        '',
        '',
        ratio(verify.ms, plainRestore.ms),
      ],
    ]),
  );
  console.log(
    `repository after the first backup: ${formatBytes(repoSize)} (the -Fc file: ${formatBytes(dumpSize)})`,
  );
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  console.log(
    `\nGoal backup ≤ ${GOAL_TIME_RATIO}× pg_dump -Fc: ${verdict(first.ms <= GOAL_TIME_RATIO * baseline)} (${ratio(first.ms, baseline)})`,
  );
  console.log(
    `Goal unchanged adds < ${GOAL_UNCHANGED * 100} %: ${verdict(unchanged.added < GOAL_UNCHANGED * first.added)} (${share(unchanged.added)})`,
  );
  console.log(
    `Goal 1 % changed adds < ${GOAL_CHANGED * 100} %: recent rows ${verdict(changedRecent.added < GOAL_CHANGED * first.added)} (${share(changedRecent.added)}), spread rows ${verdict(changedSpread.added < GOAL_CHANGED * first.added)} (${share(changedSpread.added)})`,
  );
}

runBench(main);
