// The Caddy process on a gateway node: started by the agent, restarted when it dies (and
// given the last good config again), fed whole configs through its admin API's
// `POST /load`, which swaps them atomically. A rejected config leaves the previous one
// serving and comes back as an error.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

export const CADDY_BINARY = process.env['FLOTILLA_CADDY'] ?? 'caddy';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const RESTART_DELAY_MS = 250;
const LOG_TAIL_BYTES = 16 * 1024;

export interface CaddyServerOptions {
  /** Caddy's HOME, XDG dirs, storage and log live here. */
  dir: string;
  /** host:port of the admin API; loopback only. */
  adminListen: string;
}

export class CaddyRejectedConfig extends Error {}

/** Keeps Caddy (and `caddy validate`) out of the real home: everything under `dir`. */
export function caddyEnvironment(dir: string): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir,
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
  };
}

/** Events: `restarted` (pid) after Caddy died and came back, `error` (Error) when it can't. */
export class CaddyServer extends EventEmitter {
  private child: ChildProcess | undefined;
  private lastConfig: unknown;
  private stopping = false;
  private logTail = '';

  constructor(private readonly options: CaddyServerOptions) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get storageDir(): string {
    return path.join(this.options.dir, 'storage');
  }

  /** The internal CA's root certificate, which signs every `*.localhost`/`*.test` host. */
  get rootCertificatePath(): string {
    return path.join(this.storageDir, 'pki/authorities/local/root.crt');
  }

  async start(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    const bootstrap = path.join(this.options.dir, 'bootstrap.json');
    await writeFile(bootstrap, JSON.stringify({ admin: { listen: this.options.adminListen } }), {
      mode: 0o600,
    });
    const child = spawn(CADDY_BINARY, ['run', '--config', bootstrap], {
      env: caddyEnvironment(this.options.dir),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const remember = (chunk: Buffer) => {
      this.logTail = (this.logTail + chunk.toString()).slice(-LOG_TAIL_BYTES);
    };
    child.stdout?.on('data', remember);
    child.stderr?.on('data', remember);
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
      if (!this.stopping) setTimeout(() => void this.revive(), RESTART_DELAY_MS);
    });
    await this.waitForAdmin(child);
    if (this.lastConfig !== undefined) await this.post(this.lastConfig);
  }

  /** Replaces the whole config; on rejection the previous config keeps serving. */
  async load(config: unknown): Promise<void> {
    await this.post(config);
    this.lastConfig = config;
  }

  /** The config Caddy is serving, as Caddy reports it. */
  async currentConfig(): Promise<unknown> {
    const { status, body } = await adminRequest(this.options.adminListen, 'GET', '/config/');
    if (status !== 200) throw new Error(`caddy admin API answered ${status}`);
    return JSON.parse(body) as unknown;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  log(): string {
    return this.logTail;
  }

  private async revive(): Promise<void> {
    if (this.stopping) return;
    try {
      await this.start();
      this.emit('restarted', this.pid);
    } catch (error) {
      this.emit('error', error);
      setTimeout(() => void this.revive(), RESTART_DELAY_MS * 4);
    }
  }

  private async post(config: unknown): Promise<void> {
    const { status, body } = await adminRequest(
      this.options.adminListen,
      'POST',
      '/load',
      JSON.stringify(config),
    );
    if (status !== 200)
      throw new CaddyRejectedConfig(`caddy rejected the config: ${extractError(body)}`);
  }

  private async waitForAdmin(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`caddy exited while starting:\n${this.logTail.trim()}`);
      }
      try {
        if ((await adminRequest(this.options.adminListen, 'GET', '/config/')).status === 200)
          return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error(`caddy's admin API did not answer within ${START_TIMEOUT_MS / 1000}s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function extractError(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: fall through
  }
  return body.trim();
}

export function adminRequest(
  adminListen: string,
  method: string,
  pathname: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `http://${adminListen}${pathname}`,
      {
        method,
        agent: false,
        timeout: 10_000,
        headers: body ? { 'Content-Type': 'application/json' } : {},
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('caddy admin API timed out')));
    request.on('error', reject);
    request.end(body);
  });
}

/** Waits until the internal CA exists (Caddy creates it lazily, after the first load). */
export async function readRootCertificate(
  server: CaddyServer,
  timeoutMs = 10_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await readFile(server.rootCertificatePath, 'utf8');
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
