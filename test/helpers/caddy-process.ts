// A throwaway Caddy for tests: its own temp HOME/XDG dirs and storage, the admin API on a
// free loopback port, and configs pushed through POST /load the way the gateway agent
// does. Stopped by the PID it was started with, never by name.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const CADDY = process.env['CADDY_BIN'] ?? 'caddy';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const LOG_LIMIT = 64 * 1024;

export interface CaddyProcess {
  pid: number;
  /** Temp dir holding HOME, XDG dirs and `storage/`; removed by stop(). */
  dir: string;
  adminListen: string;
  storageDir: string;
  /** POST /load; the config must keep admin.listen at `adminListen`. */
  load(config: unknown): Promise<void>;
  /** PEM of the internal CA's root, which signs every `tls: internal` host. */
  rootCertificate(): Promise<string>;
  /** The tail of Caddy's log, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** An environment that keeps Caddy (and `caddy validate`) out of the real home. */
export function caddyEnv(dir: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: dir,
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
  };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port assigned');
  return address.port;
}

export async function startCaddy(): Promise<CaddyProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-caddy-'));
  const adminListen = `127.0.0.1:${await freePort()}`;
  const storageDir = path.join(dir, 'storage');
  const initial = path.join(dir, 'initial.json');
  await writeFile(initial, JSON.stringify({ admin: { listen: adminListen } }));

  const child = spawn(CADDY, ['run', '--config', initial], {
    env: caddyEnv(dir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const append = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-LOG_LIMIT);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));

  const pid = child.pid;
  const stop = async () => {
    if (pid !== undefined && running) {
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => running && process.kill(pid, 'SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    if (pid === undefined) throw new Error(`could not start ${CADDY}`);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await adminAnswers(adminListen))) {
      if (!running) throw new Error(`caddy exited during startup:\n${log}`);
      if (Date.now() > deadline) throw new Error(`caddy admin API not up after 10 s:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return {
      pid,
      dir,
      adminListen,
      storageDir,
      load: (config) => loadConfig(adminListen, config),
      rootCertificate: () =>
        readFile(path.join(storageDir, 'pki/authorities/local/root.crt'), 'utf8'),
      log: () => log,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function adminAnswers(adminListen: string): Promise<boolean> {
  try {
    const { status } = await adminRequest(adminListen, 'GET', '/config/');
    return status === 200;
  } catch {
    return false;
  }
}

async function loadConfig(adminListen: string, config: unknown): Promise<void> {
  const { status, body } = await adminRequest(adminListen, 'POST', '/load', JSON.stringify(config));
  if (status !== 200) throw new Error(`caddy rejected the config (${status}): ${body}`);
}

function adminRequest(
  adminListen: string,
  method: string,
  pathname: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `http://${adminListen}${pathname}`,
      { method, agent: false, headers: body ? { 'Content-Type': 'application/json' } : {} },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}
