// A throwaway Caddy for tests: the agent's own CaddyServer in a temp dir, its admin API on
// a free loopback port. Stopped by the PID it was started with, never by name.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CADDY_BINARY,
  caddyEnvironment,
  CaddyServer,
  readRootCertificate,
} from '../../src/agent/gateway/caddy-server.ts';
import { freePort } from './ports.ts';

export { freePort };
export const CADDY = CADDY_BINARY;
export const caddyEnv = caddyEnvironment;

export interface CaddyProcess {
  pid: number;
  /** Temp dir holding HOME, XDG dirs and `storage/`; removed by stop(). */
  dir: string;
  adminListen: string;
  storageDir: string;
  /** Replaceable, so a test can hand the process to a new (adopting) server. */
  server: CaddyServer;
  /** POST /load; the config must keep admin.listen at `adminListen`. */
  load(config: unknown): Promise<void>;
  /** PEM of the internal CA's root, which signs every `tls: internal` host. */
  rootCertificate(): Promise<string>;
  /** The tail of Caddy's log, for failure messages. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export async function startCaddy(): Promise<CaddyProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-caddy-'));
  const adminListen = `127.0.0.1:${await freePort()}`;
  const server = new CaddyServer({ dir, adminListen });
  const stop = async () => {
    await started.server.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await server.start();
  } catch (error) {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const started: CaddyProcess = {
    pid: server.pid!,
    dir,
    adminListen,
    storageDir: server.storageDir,
    server,
    load: (config) => started.server.load(config),
    rootCertificate: () => readRootCertificate(started.server),
    log: () => started.server.log(),
    stop,
  };
  return started;
}
