// Issue 10, "two stacks on one machine": a second stack's Caddy co-bound the first's 443
// (Caddy sets SO_REUSEPORT), and the kernel split requests between two different gateways.
// Now the second gateway refuses the port, naming the stack that holds it, and the first
// keeps serving every request; a program that is not a gateway is named too.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayPortInUse, networkNamespace } from '../../src/agent/gateway/port-claims.ts';
import { programName, tcpListeners } from '../../src/agent/port-check.ts';
import type { RouteEntry } from '../../src/plan/routes.ts';
import { startCaddy, type CaddyProcess } from '../helpers/caddy-process.ts';
import { gatewayRequest } from '../helpers/https-get.ts';
import { freePort } from '../helpers/ports.ts';

const HOST = 'shared.localhost';
const REQUESTS = 40;

describe.skipIf(process.getuid?.() !== 0)('two stacks on one machine', () => {
  let claimsDir: string;
  let alpha: CaddyProcess;
  let beta: CaddyProcess;
  const backends: http.Server[] = [];
  const dials: Record<string, string> = {};
  let httpsPort: number;
  let ca: string;

  /** `caddy` serves HOST from `stack`'s backend, as that stack's gateway agent would load it. */
  function serveAs(caddy: CaddyProcess, stack: string, ports: { http: number; https: number }) {
    const route: RouteEntry = {
      host: HOST,
      service: 'web',
      port: 'http',
      strip_prefix: false,
      tls: 'internal',
      upstreams: [{ instance: 'web-1', node: 'local', dial: dials[stack]! }],
      fallback: [dials[stack]!],
    };
    return caddy.serve([route], { httpPort: ports.http, httpsPort: ports.https });
  }

  /** Who answers, on a new connection each time (the kernel spreads connections). */
  async function answers(count: number): Promise<string[]> {
    const bodies: string[] = [];
    for (let i = 0; i < count; i++) {
      const reply = await gatewayRequest({ host: HOST, path: '/', ca, port: httpsPort }).catch(
        (error: Error) => ({ status: 0, body: `error: ${error.message}` }),
      );
      bodies.push(reply.body);
    }
    return bodies;
  }

  /** Trusts `caddy`'s CA and waits until its certificate for HOST is out. */
  async function untilServedBy(caddy: CaddyProcess, stack: string): Promise<void> {
    ca = await caddy.rootCertificate();
    const deadline = Date.now() + 10_000;
    while (!(await answers(1)).includes(stack)) {
      if (Date.now() > deadline) throw new Error(`${stack} never served:\n${await caddy.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  beforeAll(async () => {
    claimsDir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-port-claims-'));
    for (const stack of ['alpha', 'beta']) {
      const server = http.createServer((_request, response) => response.end(stack));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      backends.push(server);
      dials[stack] = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    }
    alpha = await startCaddy({ stack: 'alpha', portClaimsDir: claimsDir });
    beta = await startCaddy({ stack: 'beta', portClaimsDir: claimsDir });
    httpsPort = await freePort();
    await serveAs(alpha, 'alpha', { http: await freePort(), https: httpsPort });
    await untilServedBy(alpha, 'alpha');
  });

  afterAll(async () => {
    await Promise.all([alpha?.stop(), beta?.stop()]);
    for (const server of backends) await new Promise((resolve) => server.close(resolve));
    await rm(claimsDir, { recursive: true, force: true });
  });

  it("refuses another stack's https port, naming that stack, and the first serves every request", async () => {
    const during = answers(REQUESTS / 2);
    const refused = await serveAs(beta, 'beta', { http: await freePort(), https: httpsPort }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(GatewayPortInUse);
    expect((refused as GatewayPortInUse).port).toBe(httpsPort);
    expect((refused as GatewayPortInUse).message).toContain(
      `port ${httpsPort} is already in use by the gateway of stack "alpha" (pid ${alpha.server.pid})`,
    );
    expect((refused as GatewayPortInUse).hint).toMatch(/https_port/);
    const after = await answers(REQUESTS / 2);
    expect([...(await during), ...after]).toEqual(Array(REQUESTS).fill('alpha'));
    const holders = (await tcpListeners()).filter((listener) => listener.port === httpsPort);
    expect(holders.flatMap((listener) => listener.pids)).not.toContain(beta.server.pid);
  });

  it('names a program that is not a gateway', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(0, resolve));
    const port = (squatter.address() as net.AddressInfo).port;
    try {
      await expect(serveAs(beta, 'beta', { http: await freePort(), https: port })).rejects.toThrow(
        `port ${port} is already in use by ${programName(process.pid)} (pid ${process.pid})`,
      );
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('ignores the claim of a gateway whose Caddy is gone, and records its own', async () => {
    const port = await freePort();
    const file = path.join(claimsDir, networkNamespace(), String(port));
    const dead = spawnSync('true').pid;
    await writeFile(
      file,
      JSON.stringify({ stack: 'ghost', dir: '/nonexistent', pid: dead, startTime: 1 }),
    );
    await serveAs(beta, 'beta', { http: await freePort(), https: port });
    const claim = JSON.parse(await readFile(file, 'utf8')) as object;
    expect(claim).toMatchObject({ stack: 'beta', pid: beta.server.pid });
  });

  it('gives the port to the other stack once the first is down', async () => {
    await alpha.stop();
    await serveAs(beta, 'beta', { http: await freePort(), https: httpsPort });
    await untilServedBy(beta, 'beta');
    expect(await answers(4)).toEqual(Array(4).fill('beta'));
  });
});
