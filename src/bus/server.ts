// The nats-server process: config, JetStream store and pid file all live under one
// directory, so starting it again with the same directory (after a crash, or a hub
// restart) serves the same data on the same port to the same users.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { renderServerConfig } from './config.ts';
import type { BusUser } from './credentials.ts';
import { urlHost } from '../spec/formats.ts';

const NATS_SERVER_BINARY = process.env['FLOTILLA_NATS_SERVER'] ?? 'nats-server';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const LOG_TAIL_BYTES = 16 * 1024;
const READY_LINE = 'Server is ready';

export interface BusServerOptions {
  dir: string;
  /** Loopback by default; a multi-node hub binds its mesh address. */
  host?: string;
  /** 0 or absent: the port this directory's server used last time, else a free one. */
  port?: number;
  users: readonly BusUser[];
  serverName?: string;
  maxMemoryBytes?: number;
  maxFileBytes?: number;
}

export interface BusExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface BusServer {
  url: string;
  port: number;
  pid: number;
  configPath: string;
  /** Settles when nats-server exits for any reason, so its owner can start it again. */
  exited: Promise<BusExit>;
  /** The tail of nats-server's log, for error messages. */
  log(): string;
  /** SIGTERM, then SIGKILL if it hasn't exited after a timeout. */
  stop(): Promise<void>;
  /** Rewrites the config with these users and has the running server reread it. */
  reload(users: readonly BusUser[]): Promise<void>;
}

function busPaths(dir: string) {
  return {
    config: path.join(dir, 'nats.conf'),
    // nats-server keeps its streams in `<store_dir>/jetstream`.
    store: dir,
    pidFile: path.join(dir, 'nats.pid'),
  };
}

function busUrl(host: string, port: number): string {
  return `nats://${urlHost(host)}:${port}`;
}

export async function startBusServer(options: BusServerOptions): Promise<BusServer> {
  const host = options.host ?? '127.0.0.1';
  const paths = busPaths(options.dir);
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  await stopLeftover(paths.pidFile, paths.config);
  const port = options.port || (await previousPort(paths.config)) || (await freePort(host));
  const writeConfig = async (users: readonly BusUser[]) => {
    await writeFile(
      paths.config,
      renderServerConfig({
        serverName: options.serverName ?? 'flotilla',
        host,
        port,
        storeDir: paths.store,
        pidFile: paths.pidFile,
        users,
        maxMemoryBytes: options.maxMemoryBytes ?? 64 * 1024 * 1024,
        maxFileBytes: options.maxFileBytes ?? 1024 * 1024 * 1024,
      }),
      { mode: 0o600 },
    );
    // writeFile's mode only applies when it creates the file.
    await chmod(paths.config, 0o600);
  };
  await writeConfig(options.users);

  const child = spawn(NATS_SERVER_BINARY, ['-c', paths.config], {
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logTail = '';
  const exited = new Promise<BusExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  // Ready once the log says so; failed if it exits, can't be spawned, or takes too long.
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    const remember = (chunk: Buffer) => {
      logTail = (logTail + chunk.toString()).slice(-LOG_TAIL_BYTES);
      if (logTail.includes(READY_LINE)) resolve();
    };
    child.stdout.on('data', remember);
    child.stderr.on('data', remember);
    const fail = (why: string) =>
      reject(new Error(`nats-server ${why}${logTail.trim() ? `:\n${logTail.trim()}` : ''}`));
    child.on('error', (error) => fail(`could not be started (${error.message})`));
    void exited.then(({ code, signal }) =>
      fail(`exited while starting (${signal ?? `code ${code}`})`),
    );
    timer = setTimeout(
      () => fail(`was not ready within ${START_TIMEOUT_MS / 1000}s`),
      START_TIMEOUT_MS,
    );
  });
  try {
    await ready;
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }

  return {
    url: busUrl(host, port),
    port,
    pid: child.pid!,
    configPath: paths.config,
    exited,
    log: () => logTail,
    stop,
    async reload(users) {
      await writeConfig(users);
      // nats-server rereads its config on SIGHUP, keeping every connection and stream.
      child.kill('SIGHUP');
    },
  };
}

/** The port an earlier start wrote into this directory's config, so clients can find it again. */
async function previousPort(configPath: string): Promise<number | undefined> {
  try {
    const { port } = JSON.parse(await readFile(configPath, 'utf8')) as { port?: unknown };
    return typeof port === 'number' && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

async function freePort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port assigned');
  return address.port;
}

/**
 * A nats-server left running by a previous hub (that crashed without stopping it) would
 * hold the port and the store. Stop it — only if its pid is still a nats-server started
 * with this directory's config, never a process that happened to reuse the pid.
 */
async function stopLeftover(pidFile: string, configPath: string): Promise<void> {
  let pid: number;
  try {
    pid = Number.parseInt(await readFile(pidFile, 'utf8'), 10);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1) return;
  let argv: string[];
  try {
    argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  } catch {
    return; // not running
  }
  if (!argv.includes(configPath)) return;
  process.kill(pid, 'SIGTERM');
  if (await exitsWithin(pid, STOP_TIMEOUT_MS)) return;
  process.kill(pid, 'SIGKILL');
  await exitsWithin(pid, STOP_TIMEOUT_MS);
}

async function exitsWithin(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
