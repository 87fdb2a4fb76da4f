// A throwaway Caddy for tests: the agent's own CaddyServer in a temp dir (as root, Caddy runs
// as flotilla-caddy, like on a node), its admin API on the socket in that dir, and the
// upstream DNS responder its routes look their instances up at. Stopped by the PID it was
// started with, never by name.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { adminSocketPath } from '../../src/agent/gateway/caddy-admin.ts';
import {
  CADDY_BINARY,
  caddyEnvironment,
  CaddyServer,
  readRootCertificate,
} from '../../src/agent/gateway/caddy-server.ts';
import { UpstreamDns } from '../../src/agent/gateway/upstream-dns.ts';
import { gatewayState, localizeGateway, type CaddyOptions } from '../../src/plan/caddy.ts';
import type { RouteEntry, Upstream } from '../../src/plan/routes.ts';
import { freePort } from './ports.ts';

export { freePort };
export const CADDY = CADDY_BINARY;
export const caddyEnv = caddyEnvironment;

export interface CaddyProcess {
  pid: number;
  /** Temp dir holding Caddy's dir (`caddy/`); removed by stop(). */
  dir: string;
  /** The CaddyServer's dir, to hand to a new (adopting) server. */
  caddyDir: string;
  adminSocket: string;
  /** Replaceable, so a test can hand the process to a new (adopting) server. */
  server: CaddyServer;
  /** `config` with this Caddy's responder as its resolver, as the agent loads it. */
  localize(config: unknown): unknown;
  /** Loads `config`, localized. */
  load(config: unknown): Promise<void>;
  /**
   * Serves `routes` as the hub and a gateway agent would, with the upstreams `healthy` says
   * (default: all) in the responder's sets.
   */
  serve(
    routes: RouteEntry[],
    options: CaddyOptions,
    healthy?: (upstream: Upstream) => boolean,
  ): Promise<void>;
  /** PEM of the internal CA's root, which signs every `tls: internal` host. */
  rootCertificate(): Promise<string>;
  /** The tail of Caddy's log, for failure messages. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export interface StartCaddyOptions {
  /** Default `test`. */
  stack?: string;
  /** Default: the CaddyServer's (/run/flotilla/ports as root). */
  portClaimsDir?: string;
}

export async function startCaddy(options: StartCaddyOptions = {}): Promise<CaddyProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-caddy-'));
  // mkdtemp makes it 0700: Caddy's user must get through it to its own directories.
  await chmod(dir, 0o711);
  const caddyDir = path.join(dir, 'caddy');
  const server = new CaddyServer({
    dir: caddyDir,
    stack: options.stack ?? 'test',
    ...(options.portClaimsDir === undefined ? {} : { portClaimsDir: options.portClaimsDir }),
  });
  const dns = await UpstreamDns.start();
  const stop = async () => {
    await started.server.stop();
    await dns.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await server.start();
  } catch (error) {
    await server.stop();
    await dns.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const started: CaddyProcess = {
    pid: server.pid!,
    dir,
    caddyDir,
    adminSocket: adminSocketPath(caddyDir),
    server,
    localize: (config) => localizeGateway(config, dns.address),
    load: (config) => started.server.load(started.localize(config)),
    serve: (routes, options, healthy = () => true) => {
      const { config, upstreams } = gatewayState(routes, healthy, options);
      dns.update(upstreams);
      return started.load(config);
    },
    rootCertificate: () => readRootCertificate(started.server),
    log: () => started.server.log(),
    stop,
  };
  return started;
}
