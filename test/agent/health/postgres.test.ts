// The postgres probe against a real PostgreSQL 15 in a temp dir, run as the `postgres`
// system user (PostgreSQL refuses to run as root). Stopped by its PID, never by name.
import { spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probePostgres } from '../../../src/agent/health/postgres.ts';
import { freePort } from '../../helpers/ports.ts';

const BIN = '/usr/lib/postgresql/15/bin';
const ENV = { PATH: '/usr/bin:/bin', LANG: 'C' };

let dir: string;
let data: string;
let port: number;
let owner: { uid: number; gid: number };
let server: ChildProcess | undefined;

async function systemUser(name: string): Promise<{ uid: number; gid: number }> {
  const line = (await readFile('/etc/passwd', 'utf8'))
    .split('\n')
    .find((entry) => entry.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error(`no system user ${name}`);
  return { uid: Number(uid), gid: Number(gid) };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', resolve));
}

async function initdb(): Promise<void> {
  const child = spawn(
    path.join(BIN, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '--no-instructions', '-E', 'UTF8'],
    { ...owner, cwd: dir, env: ENV, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  if ((await exited(child)) !== 0) throw new Error(`initdb failed: ${stderr}`);
}

function startServer(...settings: string[]): void {
  const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1'];
  for (const setting of ['fsync=off', ...settings]) args.push('-c', setting);
  server = spawn(path.join(BIN, 'postgres'), args, {
    ...owner,
    cwd: dir,
    env: ENV,
    stdio: 'ignore',
  });
}

/** SIGINT is PostgreSQL's fast shutdown. */
async function stopServer(): Promise<void> {
  const running = server;
  server = undefined;
  if (running?.pid === undefined || running.exitCode !== null) return;
  running.kill('SIGINT');
  await exited(running);
}

const probe = (extra: { user?: string; database?: string } = {}) =>
  probePostgres({ port, timeoutMs: 2000, ...extra });

beforeAll(async () => {
  owner = await systemUser('postgres');
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-pg-'));
  // The server writes its data dir and socket here.
  await chown(dir, owner.uid, owner.gid);
  data = path.join(dir, 'data');
  port = await freePort();
  await initdb();
  // One role must log in with a password, to see how a check without one fares.
  await writeFile(
    path.join(data, 'pg_hba.conf'),
    [
      'local all all trust',
      'host all needs_password 127.0.0.1/32 scram-sha-256',
      'host all all 127.0.0.1/32 trust',
      '',
    ].join('\n'),
  );
}, 30_000);

afterAll(async () => {
  await stopServer();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the postgres probe', () => {
  it('fails before the server runs', async () => {
    expect(await probe()).toEqual({ ok: false, detail: 'connection refused' });
  });

  it('passes once the server runs SELECT 1', async () => {
    startServer();
    // Refused until it listens, then briefly "the database system is starting up".
    await expect
      .poll(probe, { timeout: 15_000, interval: 50 })
      .toEqual({ ok: true, detail: 'SELECT 1 ok' });
  });

  it('fails for a database that does not exist', async () => {
    expect(await probe({ database: 'nope' })).toEqual({
      ok: false,
      detail: 'database "nope" does not exist',
    });
  });

  it('counts a login refused for lack of a password as up', async () => {
    expect(await probe({ user: 'needs_password' })).toEqual({
      ok: true,
      detail: 'up (login refused: the check has no password)',
    });
  });

  it('fails once the server stops', async () => {
    await stopServer();
    expect(await probe()).toEqual({ ok: false, detail: 'connection refused' });
  });

  it('fails while the server is up but not accepting sessions', async () => {
    // A standby without hot_standby never leaves recovery: it answers every login with
    // SQLSTATE 57P03, the same family as "the database system is starting up".
    await writeFile(path.join(data, 'standby.signal'), '');
    startServer('hot_standby=off');
    await expect
      .poll(probe, { timeout: 15_000, interval: 50 })
      .toEqual({ ok: false, detail: 'the database system is not accepting connections' });
  });
});
