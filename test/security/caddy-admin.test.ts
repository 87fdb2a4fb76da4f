// Issue 10, item 3 (Caddy half): as `nobody`, `POST /load` on Caddy's admin API
// (127.0.0.1:2019) made a root Caddy serve /etc/shadow. Now the admin API is a unix socket
// in a directory only Caddy's user and root enter, Caddy listens on no other TCP port than
// the gateway's, and it runs as flotilla-caddy with CAP_NET_BIND_SERVICE only: a config
// that serves /etc cannot read /etc/shadow, yet Caddy binds a port below 1024.
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRequest } from '../../src/agent/gateway/caddy-admin.ts';
import { CADDY_USER } from '../../src/agent/gateway/caddy-user.ts';
import { tcpListeners } from '../../src/agent/port-check.ts';
import { resolveUser } from '../../src/system/users.ts';
import { caddyConfig } from '../../src/plan/caddy.ts';
import type { RouteEntry } from '../../src/plan/routes.ts';
import { startCaddy, type CaddyProcess } from '../helpers/caddy-process.ts';
import { gatewayRequest } from '../helpers/https-get.ts';
import { freePort } from '../helpers/ports.ts';

const run = promisify(execFile);
const HOST = 'secure.localhost';
const OLD_ADMIN_PORT = 2019;

/** What the attacker loads: every file under /etc, served on the gateway's own ports. */
function shadowConfig(httpPort: number, port: number) {
  return {
    apps: {
      http: {
        http_port: httpPort,
        servers: {
          loot: {
            listen: [`:${port}`],
            routes: [{ handle: [{ handler: 'file_server', root: '/etc' }] }],
          },
        },
      },
    },
  };
}

/**
 * A port below net.ipv4.ip_unprivileged_port_start that nothing holds here: only
 * CAP_NET_BIND_SERVICE lets a non-root Caddy bind it, and unlike 80/443 no real gateway on
 * this shared machine wants it. (Bound by this root test process to check, then freed.)
 */
async function freeLowPort(): Promise<number> {
  const limit = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  for (let port = Math.min(limit, 1024) - 1; port >= 900; port--) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen({ port, exclusive: true }, () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port between 900 and ${limit} (ip_unprivileged_port_start)`);
}

/** `command` as `nobody`, no groups, no capabilities; its exit code and output. */
async function asNobody(command: string[], input?: string) {
  const nobody = resolveUser('nobody');
  const argv = [`--reuid=${nobody.uid}`, `--regid=${nobody.gid}`, '--clear-groups', '--'];
  const child = run('setpriv', [...argv, ...command], { timeout: 10_000 });
  if (input !== undefined) child.child.stdin?.end(input);
  return child.then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code?: number; stdout?: string }) => ({ code: error.code, stdout: error.stdout }),
  );
}

/** `/proc/<pid>/status` as field → value. */
function procStatus(pid: number): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields;
}

/** A plain-HTTP GET on loopback. */
function plainGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false, timeout: 3000 }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function servedConfig(caddy: CaddyProcess): Promise<string> {
  const { status, body } = await adminRequest(caddy.adminSocket, 'GET', '/config/');
  expect(status).toBe(200);
  return body;
}

describe.skipIf(process.getuid?.() !== 0)("Caddy's admin API and privileges", () => {
  let caddy: CaddyProcess;
  let backend: http.Server;
  let httpPort: number;
  let httpsPort: number;
  let ca: string;
  let gatewayConfig: ReturnType<typeof caddyConfig>;

  const get = (path: string, port = httpsPort) =>
    gatewayRequest({ host: HOST, path, ca, port, timeoutMs: 3000 });

  beforeAll(async () => {
    backend = http.createServer((_request, response) => response.end('backend'));
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const route: RouteEntry = {
      host: HOST,
      service: 'web',
      port: 'http',
      strip_prefix: false,
      tls: 'internal',
      upstreams: [
        {
          instance: 'web-1',
          node: 'local',
          dial: `127.0.0.1:${(backend.address() as net.AddressInfo).port}`,
        },
      ],
      fallback: [`127.0.0.1:${(backend.address() as net.AddressInfo).port}`],
    };
    [httpPort, httpsPort] = [await freePort(), await freeLowPort()];
    gatewayConfig = caddyConfig([route], { httpPort, httpsPort });
    caddy = await startCaddy({ stack: 'admin-test' });
    // The agent, as root, loads configs through the socket.
    await caddy.serve([route], { httpPort, httpsPort });
    ca = await caddy.rootCertificate();
    const deadline = Date.now() + 10_000;
    while ((await get('/').catch(() => undefined))?.body !== 'backend') {
      if (Date.now() > deadline) throw new Error(`${HOST} never served:\n${await caddy.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    await caddy?.stop();
    await new Promise((resolve) => backend?.close(resolve));
  });

  it("refuses nobody on the admin socket, which lives in a 0700 directory of Caddy's user", async () => {
    const before = await servedConfig(caddy);
    const attack = await asNobody(
      [
        'curl',
        '-sS',
        '--unix-socket',
        caddy.adminSocket,
        // The empty Host Caddy wants on a unix socket: this request works for root.
        '-H',
        'Host;',
        '-H',
        'Content-Type: application/json',
        '--data-binary',
        '@-',
        'http://localhost/load',
      ],
      JSON.stringify(shadowConfig(httpPort, httpsPort)),
    );
    expect(attack.code).toBe(7); // could not connect: permission denied on the directory
    expect(await servedConfig(caddy)).toBe(before);
    expect((await get('/shadow')).body).not.toMatch(/^root:/m);

    const directory = statSync(caddy.adminSocket.replace(/\/[^/]+$/, ''));
    expect(directory.mode & 0o777).toBe(0o700);
    expect(directory.uid).toBe(resolveUser(CADDY_USER).uid);
  });

  it("listens on no TCP port but the gateway's: nothing answers nobody on the old admin port", async () => {
    const caddyPorts = (await tcpListeners())
      .filter((listener) => listener.pids.includes(caddy.server.pid!))
      .map((listener) => listener.port);
    expect(new Set(caddyPorts)).toEqual(new Set([httpPort, httpsPort]));
    const postLoad = (url: string) =>
      asNobody(
        ['curl', '-sS', '-k', '--max-time', '3', '--data-binary', '@-', url],
        JSON.stringify(shadowConfig(httpPort, httpsPort)),
      );
    for (const port of caddyPorts) {
      await postLoad(`${port === httpsPort ? 'https' : 'http'}://127.0.0.1:${port}/load`);
    }
    // Another program's port 2019 (a Caddy of someone else's) is not ours to attack.
    if (!(await tcpListeners()).some((listener) => listener.port === OLD_ADMIN_PORT)) {
      expect((await postLoad(`http://127.0.0.1:${OLD_ADMIN_PORT}/load`)).code).toBe(7);
    }
    expect(JSON.parse(await servedConfig(caddy))).toMatchObject({
      apps: (caddy.localize(gatewayConfig) as typeof gatewayConfig).apps,
    });
    expect((await get('/')).body).toBe('backend');
  });

  it('runs as its own user with CAP_NET_BIND_SERVICE only, yet serves on a port below 1024', async () => {
    const status = procStatus(caddy.server.pid!);
    const user = resolveUser(CADDY_USER);
    expect(status['Uid']!.split(/\s+/).map(Number)).toEqual(Array(4).fill(user.uid));
    expect(status['Gid']!.split(/\s+/).map(Number)).toEqual(Array(4).fill(user.gid));
    expect(status['Groups']).toBe('');
    const netBindService = (1 << 10).toString(16).padStart(16, '0');
    for (const set of ['CapEff', 'CapPrm', 'CapBnd', 'CapAmb']) {
      expect(status[set], set).toBe(netBindService);
    }
    expect(status['NoNewPrivs']).toBe('1');
    expect(httpsPort).toBeLessThan(1024);
    expect(await get('/')).toMatchObject({ status: 200, body: 'backend' });
  });

  it('cannot read /etc/shadow even when a config tells it to serve /etc', async () => {
    try {
      await caddy.load(shadowConfig(httpPort, httpsPort));
      const shadow = await plainGet(httpsPort, '/shadow');
      expect(shadow.status).toBe(403);
      expect(shadow.body).not.toMatch(/^root:/m);
      // Control: the same config does serve what Caddy's user may read.
      expect(await plainGet(httpsPort, '/hostname')).toEqual({
        status: 200,
        body: readFileSync('/etc/hostname', 'utf8'),
      });
    } finally {
      await caddy.load(gatewayConfig);
    }
  });

  it("keeps the internal CA's root certificate readable by root only", () => {
    const info = statSync(caddy.server.rootCertificatePath);
    expect(info.uid).toBe(resolveUser(CADDY_USER).uid);
    expect(info.mode & 0o077).toBe(0);
    expect(readFileSync(caddy.server.rootCertificatePath, 'utf8')).toBe(ca);
  });
});
