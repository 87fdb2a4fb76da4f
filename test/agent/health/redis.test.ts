// The redis probe against a real redis-server: PONG, NOAUTH, LOADING (a real dataset
// loaded slowly) and a dead server. Every server is stopped by its PID, never by name.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeRedis } from '../../../src/agent/health/redis.ts';
import { freePort } from '../../helpers/ports.ts';

let dir: string;
let port: number;
const servers = new Set<ChildProcess>();

function startRedis(...extra: string[]): ChildProcess {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--enable-debug-command',
      'local',
      ...extra,
    ],
    { stdio: 'ignore' },
  );
  servers.add(child);
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  servers.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

const redisCli = (...args: string[]) =>
  promisify(execFile)('redis-cli', ['-p', String(port), '--no-auth-warning', ...args]);

const probe = () => probeRedis({ port, timeoutMs: 1000 });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-redis-'));
  port = await freePort();
});

afterAll(async () => {
  await Promise.all([...servers].map(kill));
  await rm(dir, { recursive: true, force: true });
});

describe('the redis probe', () => {
  let server: ChildProcess;

  it('fails before the server runs', async () => {
    expect(await probe()).toEqual({ ok: false, detail: 'connection refused' });
  });

  it('passes on PONG', async () => {
    server = startRedis();
    await expect.poll(probe, { timeout: 5000, interval: 50 }).toEqual({ ok: true, detail: 'PONG' });
  });

  it('counts a server that wants a password as up', async () => {
    await redisCli('CONFIG', 'SET', 'requirepass', 'secret');
    expect(await probe()).toEqual({ ok: true, detail: 'up (requires a password)' });
    await redisCli('-a', 'secret', 'CONFIG', 'SET', 'requirepass', '');
  });

  it('fails while the dataset loads, passes once loaded', async () => {
    await redisCli('DEBUG', 'POPULATE', '150', 'key', '2000');
    await redisCli('SAVE');
    await kill(server);
    // 10 ms per key: a 1.5 s loading phase, answering clients every KiB read.
    server = startRedis(
      '--key-load-delay',
      '10000',
      '--loading-process-events-interval-bytes',
      '1024',
    );
    await expect.poll(probe, { timeout: 5000, interval: 20 }).toEqual({
      ok: false,
      detail: 'LOADING Redis is loading the dataset in memory',
    });
    await expect.poll(probe, { timeout: 5000, interval: 50 }).toEqual({ ok: true, detail: 'PONG' });
  });

  it('fails once the server is killed', async () => {
    await kill(server);
    expect(await probe()).toEqual({ ok: false, detail: 'connection refused' });
  });
});
