// The gateway's Caddy process: a rejected config changes nothing, and a killed Caddy comes
// back serving the same routes.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaddyRejectedConfig, CaddyServer } from '../../../src/agent/gateway/caddy-server.ts';
import { caddyConfig } from '../../../src/plan/caddy.ts';
import type { RouteEntry } from '../../../src/plan/routes.ts';
import { startCaddy, type CaddyProcess } from '../../helpers/caddy-process.ts';
import { freePort } from '../../helpers/ports.ts';

let caddy: CaddyProcess;
let backend: http.Server;
let backendPort: number;
let httpPort: number;
let httpsPort: number;

function config(upstreamPort: number) {
  const route: RouteEntry = {
    host: 'gw.localhost',
    service: 'web',
    port: 'http',
    strip_prefix: false,
    tls: 'internal',
    upstreams: [{ instance: 'web-1', node: 'local', dial: `127.0.0.1:${upstreamPort}` }],
    fallback: [`127.0.0.1:${upstreamPort}`],
  };
  return caddyConfig([route], { httpPort, httpsPort });
}

/** GET through the gateway's plain-HTTP port: the redirect proves the host is routed. */
async function routed(): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(
      {
        host: '127.0.0.1',
        port: httpPort,
        path: '/',
        headers: { host: 'gw.localhost' },
        timeout: 1000,
      },
      (response) => {
        response.resume();
        resolve(response.statusCode === 308);
      },
    );
    request.on('error', () => resolve(false));
  });
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  backend = http.createServer((_request, response) => response.end('ok'));
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  backendPort = (backend.address() as { port: number }).port;
  [httpPort, httpsPort] = [await freePort(), await freePort()];
  caddy = await startCaddy();
});

afterAll(async () => {
  await caddy?.stop();
  await new Promise((resolve) => backend.close(resolve));
});

describe('the gateway Caddy', () => {
  it('keeps serving the previous config when a load is rejected', async () => {
    await caddy.load(config(backendPort));
    expect(await routed()).toBe(true);
    const broken = {
      ...config(backendPort),
      apps: { http: { servers: { x: { listen: [':notaport'] } } } },
    };
    await expect(caddy.server.load(broken)).rejects.toBeInstanceOf(CaddyRejectedConfig);
    expect(await routed()).toBe(true);
  });

  it('restarts a killed Caddy and serves the same routes again', async () => {
    await caddy.load(config(backendPort));
    const before = caddy.server.pid!;
    const restarted = new Promise<number>((resolve) => caddy.server.once('restarted', resolve));
    process.kill(before, 'SIGKILL');
    const after = await restarted;
    expect(after).not.toBe(before);
    await until(routed, 5000);
    const served = (await caddy.server.currentConfig()) as { apps: { http: { servers: object } } };
    expect(Object.keys(served.apps.http.servers)).toEqual(['gateway']);
  });

  it('is adopted, still serving, by the next agent after the agent goes away', async () => {
    await caddy.load(config(backendPort));
    const pid = caddy.server.pid!;
    caddy.server.detach();
    expect(await routed()).toBe(true);
    const next = new CaddyServer({ dir: caddy.caddyDir, stack: 'test' });
    await next.start();
    expect(next.pid).toBe(pid);
    // The adopted process is Caddy itself (setpriv, as root, exec'd into it in place).
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(path.basename(argv[0]!)).toBe('caddy');
    expect(await routed()).toBe(true);
    caddy.server = next;
  });
});
