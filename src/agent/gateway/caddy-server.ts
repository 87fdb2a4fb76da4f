// The Caddy process on a gateway node: started by the agent, restarted when it dies (and
// given the last good config again), fed whole configs through its admin API's
// `POST /load`, which swaps them atomically. A rejected config leaves the previous one
// serving and comes back as an error.
import { EventEmitter } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { tailLog } from '../process/log-files.ts';
import { ProcessSupervisor } from '../process/supervisor.ts';

export const CADDY_BINARY = process.env['FLOTILLA_CADDY'] ?? 'caddy';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const LOG_TAIL_LINES = 30;

export interface CaddyServerOptions {
  /** Caddy's HOME, XDG dirs, storage, log and process record live here. */
  dir: string;
  /** host:port of the admin API; loopback only. */
  adminListen: string;
}

export class CaddyRejectedConfig extends Error {}

/** Keeps Caddy (and `caddy validate`) out of the real home: everything under `dir`. */
export function caddyEnvironment(dir: string): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir,
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
  };
}

/**
 * Caddy runs under the same supervisor as services: detached, logging to a file, so it
 * keeps serving while the agent is down, and is adopted (not restarted) by the next agent.
 * Events: `restarted` (pid) after Caddy died and came back with the last config.
 */
export class CaddyServer extends EventEmitter {
  private readonly supervisor: ProcessSupervisor;
  private lastConfig: unknown;
  private starts = 0;

  constructor(private readonly options: CaddyServerOptions) {
    super();
    const bootstrap = path.join(options.dir, 'bootstrap.json');
    this.supervisor = new ProcessSupervisor({
      id: 'caddy',
      command: [CADDY_BINARY, 'run', '--config', bootstrap],
      cwd: options.dir,
      env: caddyEnvironment(options.dir),
      stop: { signal: 'SIGTERM', timeoutMs: STOP_TIMEOUT_MS },
      restart: 'always',
      logDir: options.dir,
      stateDir: options.dir,
    });
    this.supervisor.on('started', ({ adopted }) => {
      this.starts += 1;
      if (adopted || this.starts === 1) return;
      void this.waitForAdmin()
        .then(() => (this.lastConfig === undefined ? undefined : this.post(this.lastConfig)))
        .then(() => this.emit('restarted', this.pid))
        .catch((error: unknown) => this.emit('error', error));
    });
  }

  get pid(): number | undefined {
    return this.supervisor.status.pid;
  }

  get storageDir(): string {
    return path.join(this.options.dir, 'storage');
  }

  /** The internal CA's root certificate, which signs every `*.localhost`/`*.test` host. */
  get rootCertificatePath(): string {
    return path.join(this.storageDir, 'pki/authorities/local/root.crt');
  }

  /** Starts Caddy, or adopts the one a previous agent left running. */
  async start(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    const bootstrap = path.join(this.options.dir, 'bootstrap.json');
    await writeFile(bootstrap, JSON.stringify({ admin: { listen: this.options.adminListen } }), {
      mode: 0o600,
    });
    await this.supervisor.start();
    await this.waitForAdmin();
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

  stop(): Promise<void> {
    return this.supervisor.stop();
  }

  /** Leaves Caddy serving the last routes while no agent watches it. */
  detach(): void {
    this.supervisor.detach();
  }

  /** The tail of Caddy's log, for error messages. */
  async log(): Promise<string> {
    return (await tailLog(this.supervisor.logFile, LOG_TAIL_LINES).catch(() => [])).join('\n');
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

  private async waitForAdmin(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const state = this.supervisor.status.state;
      if (state === 'failed') throw new Error(`caddy keeps exiting:\n${await this.log()}`);
      try {
        if (
          state === 'running' &&
          (await adminRequest(this.options.adminListen, 'GET', '/config/')).status === 200
        )
          return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(
          `caddy's admin API did not answer within ${START_TIMEOUT_MS / 1000}s:\n${await this.log()}`,
        );
      }
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
