// The Caddy process on a gateway node: started by the agent, restarted when it dies (and
// given the last good config again), fed whole configs through its admin API's
// `POST /load`, which swaps them atomically. A rejected config leaves the previous one
// serving and comes back as an error. Where Caddy's admin API listens and where it keeps its
// certificates are this node's business, not the hub's: every config gets this node's.
import { EventEmitter } from 'node:events';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SystemUser } from '../../system/users.ts';
import { instanceLogFile, tailLog } from '../process/log-files.ts';
import { ProcessSupervisor } from '../process/supervisor.ts';
import { adminRequest, adminSettings, adminSocketPath, checkSocketPath } from './caddy-admin.ts';
import {
  CADDY_USER,
  checkReachable,
  dropPrivileges,
  ensureSystemUser,
  ownedDirectory,
} from './caddy-user.ts';
import { listenPorts, UnknownListenAddress } from './listen-ports.ts';
import { defaultPortClaimsDir, PortClaims } from './port-claims.ts';

export const CADDY_BINARY = process.env['FLOTILLA_CADDY'] ?? 'caddy';

const ID = 'caddy';
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const LOG_TAIL_LINES = 30;

export interface CaddyServerOptions {
  /**
   * Caddy's files. The agent's own (root's, as the agent is): `bootstrap.json`, the process
   * record and the log. Caddy's (its user's, 0700): `home/`, `storage/` (certificates, the
   * internal CA) and `admin/`, which holds the admin socket.
   */
  dir: string;
  /** The stack this gateway serves: named to another stack's gateway that wants its ports. */
  stack: string;
  /**
   * Where the gateways on this machine record which ports they hold; all of them must share
   * it. Default: defaultPortClaimsDir().
   */
  portClaimsDir?: string;
}

export class CaddyRejectedConfig extends Error {}

/** Keeps Caddy (and `caddy validate`) out of the real home: everything under `home`. */
export function caddyEnvironment(home: string): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: home,
    XDG_DATA_HOME: path.join(home, 'data'),
    XDG_CONFIG_HOME: path.join(home, 'config'),
  };
}

/**
 * Caddy runs under the same supervisor as services: detached, logging to a file, so it
 * keeps serving while the agent is down, and is adopted (not restarted) by the next agent.
 * When the agent is root, Caddy runs as `flotilla-caddy` (created when missing) with only
 * CAP_NET_BIND_SERVICE; otherwise as the agent's user.
 * Events: `restarted` (pid) after Caddy died and came back with the last config.
 */
export class CaddyServer extends EventEmitter {
  private readonly dir: string;
  private readonly socket: string;
  private readonly claims: PortClaims;
  private supervisor: ProcessSupervisor | undefined;
  private lastConfig: unknown;
  /** The Caddy pid and ports the last successful claim was for: `pid:port,port`. */
  private holding: string | undefined;
  private starts = 0;
  /** Loads (the agent's and a restart's) run one after another. */
  private applying: Promise<void> = Promise.resolve();

  constructor(options: CaddyServerOptions) {
    super();
    this.dir = path.resolve(options.dir);
    this.socket = adminSocketPath(this.dir);
    checkSocketPath(this.socket);
    this.claims = new PortClaims(options.portClaimsDir ?? defaultPortClaimsDir(), {
      stack: options.stack,
      dir: this.dir,
    });
  }

  get pid(): number | undefined {
    return this.supervisor?.status.pid;
  }

  get storageDir(): string {
    return path.join(this.dir, 'storage');
  }

  /**
   * The internal CA's root certificate, which signs every `*.localhost`/`*.test` host.
   * Caddy writes it 0600 in 0700 directories of its own: root (and Caddy) read it.
   */
  get rootCertificatePath(): string {
    return path.join(this.storageDir, 'pki/authorities/local/root.crt');
  }

  /** Starts Caddy, or adopts the one a previous agent left running. */
  async start(): Promise<void> {
    const user = process.getuid?.() === 0 ? await ensureSystemUser(CADDY_USER) : undefined;
    // Caddy's user goes through this directory to its own, and reads bootstrap.json.
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, user ? 0o711 : 0o700);
    if (user) await checkReachable(this.dir, user);
    for (const dir of [this.home, this.storageDir, path.dirname(this.socket)])
      await ownedDirectory(dir, user);
    await writeFile(this.bootstrap, JSON.stringify(this.localSettings({})), { mode: 0o644 });
    await chmod(this.bootstrap, 0o644);
    this.supervisor ??= this.supervise(user);
    await this.supervisor.start();
    await this.waitForAdmin();
  }

  /**
   * Replaces the whole config, with this node's admin endpoint and storage; on rejection
   * the previous config keeps serving. Throws GatewayPortInUse, loading nothing, when
   * another stack's gateway or another program listens on a port the config needs.
   */
  async load(config: unknown): Promise<void> {
    await this.apply(config);
    this.lastConfig = config;
  }

  /** The config Caddy is serving, as Caddy reports it. */
  async currentConfig(): Promise<unknown> {
    const { status, body } = await adminRequest(this.socket, 'GET', '/config/');
    if (status !== 200) throw new Error(`caddy admin API answered ${status}`);
    return JSON.parse(body) as unknown;
  }

  /** Stops Caddy (also one a previous agent left running) and gives up its ports. */
  async stop(): Promise<void> {
    // Without a start, a supervisor only to stop what a previous agent left running.
    await (this.supervisor ?? this.supervise(undefined)).stop();
    await this.claims.keepOnly([]);
    this.holding = undefined;
  }

  /** Leaves Caddy serving the last routes (and holding its ports) while no agent watches it. */
  detach(): void {
    this.supervisor?.detach();
  }

  /** The tail of Caddy's log, for error messages. */
  async log(): Promise<string> {
    const lines = await tailLog(instanceLogFile(this.dir, ID), LOG_TAIL_LINES).catch(() => []);
    return lines.join('\n');
  }

  private get home(): string {
    return path.join(this.dir, 'home');
  }

  private get bootstrap(): string {
    return path.join(this.dir, 'bootstrap.json');
  }

  /** `user` undefined: Caddy runs as the agent's user (or is only being stopped). */
  private supervise(user: SystemUser | undefined): ProcessSupervisor {
    const caddy = [CADDY_BINARY, 'run', '--config', this.bootstrap];
    const supervisor = new ProcessSupervisor({
      id: ID,
      command: user ? dropPrivileges(user, caddy) : caddy,
      cwd: this.dir,
      env: caddyEnvironment(this.home),
      stop: { signal: 'SIGTERM', timeoutMs: STOP_TIMEOUT_MS },
      restart: 'always',
      logDir: this.dir,
      stateDir: this.dir,
    });
    supervisor.on('started', ({ adopted }) => {
      this.starts += 1;
      if (adopted || this.starts === 1) return;
      void this.waitForAdmin()
        .then(() => (this.lastConfig === undefined ? undefined : this.apply(this.lastConfig)))
        .then(() => this.emit('restarted', this.pid))
        .catch((error: unknown) => this.emit('error', error));
    });
    return supervisor;
  }

  /** `config` with this node's admin endpoint and storage in place of whatever it said. */
  private localSettings(config: object): Record<string, unknown> {
    return {
      ...config,
      admin: adminSettings(this.socket),
      storage: { module: 'file_system', root: this.storageDir },
    };
  }

  private apply(config: unknown): Promise<void> {
    const applied = this.applying.then(() => this.applyNow(config));
    this.applying = applied.catch(() => undefined);
    return applied;
  }

  private async applyNow(config: unknown): Promise<void> {
    if (typeof config !== 'object' || config === null || Array.isArray(config))
      throw new CaddyRejectedConfig('caddy rejected the config: not a JSON object');
    const full = this.localSettings(config);
    let ports: number[];
    try {
      ports = listenPorts(full);
    } catch (error) {
      if (!(error instanceof UnknownListenAddress)) throw error;
      throw new CaddyRejectedConfig(`caddy rejected the config: ${error.message}`);
    }
    const pid = this.pid;
    if (pid === undefined) throw new Error('caddy is not running');
    // Most loads only change upstreams: the claims (and the `ss` check, tens of ms on every
    // load, on the path that takes a crashed instance out of the routes) are redone only
    // when the ports or the Caddy process change.
    const holding = `${pid}:${[...ports].sort((a, b) => a - b).join(',')}`;
    if (holding === this.holding) return this.post(full);
    const claimed = await this.claims.take(ports, pid);
    try {
      await this.post(full);
    } catch (error) {
      await this.claims.release(claimed);
      throw error;
    }
    await this.claims.keepOnly(ports);
    this.holding = holding;
  }

  private async post(config: unknown): Promise<void> {
    const { status, body } = await adminRequest(
      this.socket,
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
      const state = this.supervisor?.status.state;
      if (state === 'failed') throw new Error(`caddy keeps exiting:\n${await this.log()}`);
      try {
        if (
          state === 'running' &&
          (await adminRequest(this.socket, 'GET', '/config/')).status === 200
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

/** Waits until the internal CA exists (Caddy creates it lazily, after the first load). */
export async function readRootCertificate(
  server: Pick<CaddyServer, 'rootCertificatePath'>,
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
