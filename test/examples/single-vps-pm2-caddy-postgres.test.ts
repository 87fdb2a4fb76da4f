// The single-vps-pm2-caddy example's PostgreSQL wrapper, run as Flotilla runs it (as the
// postgres user, argv only): the first start creates the cluster, a later start keeps it,
// and a data dir holding something else is refused and left as it was. Each server is
// stopped by its PID (the wrapper execs, so it is postgres itself).
import { spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probePostgres } from '../../src/agent/health/postgres.ts';
import { resolveUser, type SystemUser } from '../../src/system/users.ts';
import { freePort } from '../helpers/ports.ts';
import { EXAMPLES_DIR } from './load-example.ts';
import { psqlAsPostgres } from './psql-as-postgres.ts';

const isRoot = process.getuid?.() === 0;
const WRAPPER = path.join(EXAMPLES_DIR, 'single-vps-pm2-caddy/bin/initdb-then-postgres');

interface Exit {
  code: number | null;
  stderr: string;
}

describe.skipIf(!isRoot)('initdb-then-postgres', { timeout: 60_000 }, () => {
  let dir: string;
  let postgres: SystemUser;
  let port: number;
  let running: { child: ChildProcess; exited: Promise<Exit> } | undefined;

  /** Starts the wrapper as the service does: `${data}` owned by postgres, argv only. */
  function start(cluster: string) {
    const child = spawn(
      WRAPPER,
      [cluster, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-k', dir],
      {
        uid: postgres.uid,
        gid: postgres.gid,
        cwd: '/',
        env: { PATH: '/usr/bin:/bin', LANG: 'C' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<Exit>((resolve) =>
      child.once('exit', (code) => resolve({ code, stderr })),
    );
    running = { child, exited };
    return running;
  }

  /** SIGINT is PostgreSQL's fast shutdown, the example's stop signal. */
  async function stop(): Promise<void> {
    const current = running;
    running = undefined;
    if (!current || current.child.exitCode !== null || current.child.signalCode !== null) return;
    current.child.kill('SIGINT');
    await current.exited;
  }

  async function serving(): Promise<void> {
    await expect
      .poll(
        () => probePostgres({ port, timeoutMs: 2000, user: 'postgres', database: 'callmeback' }),
        {
          timeout: 45_000,
          interval: 100,
        },
      )
      .toEqual({ ok: true, detail: 'SELECT 1 ok' });
  }

  beforeAll(async () => {
    postgres = resolveUser('postgres');
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-pg-wrapper-'));
    // Like `${data}`: the service user's own directory.
    await chown(dir, postgres.uid, postgres.gid);
    port = await freePort();
  });

  afterAll(async () => {
    await stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates the cluster on first start, with callmeback owned by cmb_user', async () => {
    const { child } = start(path.join(dir, 'cluster'));
    await serving();
    expect(await readFile(`/proc/${child.pid}/comm`, 'utf8')).toBe('postgres\n');
    expect(
      await psqlAsPostgres(
        dir,
        port,
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'callmeback';" +
          "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('cmb_user', 'log_query');",
      ),
    ).toBe('cmb_user\ncmb_user,log_query');
    await psqlAsPostgres(dir, port, 'CREATE TABLE kept (note text); INSERT INTO kept VALUES (1);');
    await stop();
  });

  it('keeps the cluster on a later start', async () => {
    start(path.join(dir, 'cluster'));
    await serving();
    expect(await psqlAsPostgres(dir, port, 'SELECT note FROM kept;')).toBe('1');
    await stop();
  });

  it('refuses a data dir that holds something other than a cluster, and leaves it alone', async () => {
    const other = path.join(dir, 'other');
    await mkdir(other);
    await writeFile(path.join(other, 'notes.txt'), 'not a cluster\n');
    await chown(other, postgres.uid, postgres.gid);
    const { exited } = start(other);
    const exit = await exited;
    running = undefined;
    expect(exit.code).toBe(1);
    expect(exit.stderr).toContain('holds files but no PostgreSQL cluster');
    expect(await readFile(path.join(other, 'notes.txt'), 'utf8')).toBe('not a cluster\n');
  });
});
