// The monitor checks against real servers on loopback: a plain HTTP server, an HTTPS one
// whose certificate a throwaway CA (made by openssl in a temp dir) signed for app.test, and
// a closed port. The HTTPS checks dial 127.0.0.1 while naming app.test, as a route check
// dials the local gateway.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCheckRequestSchema } from '../../src/monitoring/check-request.ts';
import { httpCheck, KEYWORD_BODY_LIMIT } from '../../src/monitoring/checks/http-check.ts';
import { runCheck } from '../../src/monitoring/checks/run-check.ts';
import { tcpCheck } from '../../src/monitoring/checks/tcp-check.ts';
import { freePort } from '../helpers/ports.ts';

let dir: string;
let plain: http.Server;
let secure: https.Server;
let plainPort: number;
let securePort: number;
const seen: { method: string; url: string; host?: string; token?: string }[] = [];
const hanging: http.ServerResponse[] = [];

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
}

/** A CA (name.crt, name.key) that may sign certificates. */
function makeCa(name: string): void {
  openssl(
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ); // prettier-ignore
}

/** Answers by path; every request is recorded in `seen`. */
function handler(request: http.IncomingMessage, response: http.ServerResponse): void {
  seen.push({
    method: request.method ?? '',
    url: request.url ?? '',
    ...(request.headers.host !== undefined && { host: request.headers.host }),
    ...(typeof request.headers['x-token'] === 'string' && { token: request.headers['x-token'] }),
  });
  const url = request.url ?? '/';
  if (url === '/ok') return void response.end('hello, flotilla monitors');
  if (url === '/missing') return void response.writeHead(404).end('no');
  if (url === '/redirect') return void response.writeHead(302, { location: '/ok' }).end();
  if (url === '/slow') return void setTimeout(() => response.end('late'), 300);
  if (url === '/hang') return void hanging.push(response);
  if (url === '/big') {
    // The keyword only after the first MiB: past what a check reads.
    response.write(Buffer.alloc(KEYWORD_BODY_LIMIT + 1024, 'a'));
    return void response.end('needle');
  }
  response.writeHead(500).end();
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const request = (url: string, extra: Record<string, unknown> = {}) =>
  httpCheckRequestSchema.parse({ kind: 'http', url, timeout_ms: 5_000, ...extra });
const options = { timeoutMs: 5_000 };

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-checks-'));
  makeCa('ca');
  makeCa('other-ca');
  openssl(
    'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'app.key', '-out', 'app.csr', '-subj', '/CN=app.test',
  ); // prettier-ignore
  await writeFile(
    path.join(dir, 'app.ext'),
    'subjectAltName=DNS:app.test\nbasicConstraints=CA:FALSE\n',
  );
  openssl(
    'x509', '-req', '-in', 'app.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'app.crt', '-days', '1', '-extfile', 'app.ext',
  ); // prettier-ignore
  plain = http.createServer(handler);
  secure = https.createServer(
    {
      key: await readFile(path.join(dir, 'app.key')),
      cert: await readFile(path.join(dir, 'app.crt')),
    },
    handler,
  );
  plainPort = await listen(plain);
  securePort = await listen(secure);
});

afterAll(async () => {
  for (const response of hanging) response.destroy();
  for (const server of [plain, secure]) {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('HTTP check', () => {
  const at = (pathname: string) => `http://127.0.0.1:${plainPort}${pathname}`;

  it('is up on a 2xx, with the status and a latency', async () => {
    const result = await httpCheck(request(at('/ok')), options);
    expect(result).toMatchObject({ ok: true, status: 200 });
    expect(result.detail).toMatch(/^HTTP 200 in \d+ms$/);
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(result.certificateExpiresAt).toBeUndefined();
  });

  it('counts a redirect as up without following it, and a 404 as down', async () => {
    const before = seen.length;
    expect(await httpCheck(request(at('/redirect')), options)).toMatchObject({
      ok: true,
      status: 302,
    });
    expect(seen.slice(before).map((hit) => hit.url)).toEqual(['/redirect']);
    const missing = await httpCheck(request(at('/missing')), options);
    expect(missing).toMatchObject({ ok: false, status: 404 });
    expect(missing.detail).toMatch(/^HTTP 404 in/);
  });

  it('takes the status list as the only statuses that are up', async () => {
    expect(await httpCheck(request(at('/missing'), { status: [404] }), options)).toMatchObject({
      ok: true,
    });
    expect(await httpCheck(request(at('/ok'), { status: [204] }), options)).toMatchObject({
      ok: false,
      status: 200,
    });
  });

  it('looks for the keyword in the body, only in its first MiB', async () => {
    expect(await httpCheck(request(at('/ok'), { keyword: 'flotilla' }), options)).toMatchObject({
      ok: true,
    });
    const absent = await httpCheck(request(at('/ok'), { keyword: 'kuma' }), options);
    expect(absent).toMatchObject({ ok: false, status: 200 });
    expect(absent.detail).toMatch(/without "kuma" in the body/);
    expect(await httpCheck(request(at('/big'), { keyword: 'needle' }), options)).toMatchObject({
      ok: false,
    });
  });

  it('sends the method and headers asked for', async () => {
    const before = seen.length;
    await httpCheck(request(at('/ok'), { method: 'HEAD', headers: { 'X-Token': 't0k' } }), options);
    await httpCheck(request(at('/ok'), { method: 'POST' }), options);
    expect(seen.slice(before)).toEqual([
      { method: 'HEAD', url: '/ok', host: `127.0.0.1:${plainPort}`, token: 't0k' },
      { method: 'POST', url: '/ok', host: `127.0.0.1:${plainPort}` },
    ]);
  });

  it('is down when the answer is slower than max_latency', async () => {
    const result = await httpCheck(request(at('/slow'), { max_latency_ms: 50 }), options);
    expect(result).toMatchObject({ ok: false, status: 200 });
    expect(result.detail).toMatch(/over the 50ms limit$/);
    expect(result.latencyMs).toBeGreaterThanOrEqual(300);
  });

  it('gives up at the timeout', async () => {
    expect(await httpCheck(request(at('/hang')), { timeoutMs: 300 })).toEqual({
      ok: false,
      detail: 'timed out after 300ms',
    });
  });

  it('says the connection was refused', async () => {
    const port = await freePort();
    expect(await httpCheck(request(`http://127.0.0.1:${port}/`), options)).toEqual({
      ok: false,
      detail: 'connection refused',
    });
  });
});

describe('HTTPS check', () => {
  const https = (extra: Record<string, unknown> = {}) =>
    request('https://app.test/ok', { dial: { host: '127.0.0.1', port: securePort }, ...extra });

  it("dials an address while naming the route's host, trusts the extra CA, reads the expiry", async () => {
    const before = seen.length;
    const result = await httpCheck({ ...https(), caFile: path.join(dir, 'ca.crt') }, options);
    expect(result).toMatchObject({ ok: true, status: 200 });
    expect(seen.slice(before)).toEqual([{ method: 'GET', url: '/ok', host: 'app.test' }]);
    const notAfter = openssl('x509', '-enddate', '-noout', '-in', 'app.crt').trim();
    expect(result.certificateExpiresAt).toBe(Date.parse(notAfter.replace('notAfter=', '')));
  });

  it('is down with a TLS detail when the certificate is from another CA, or none trusted', async () => {
    const wrong = await httpCheck({ ...https(), caFile: path.join(dir, 'other-ca.crt') }, options);
    expect(wrong).toEqual({ ok: false, detail: 'TLS: unable to verify the first certificate' });
    const untrusted = await httpCheck(https(), options);
    expect(untrusted.ok).toBe(false);
    expect(untrusted.detail).toMatch(/^TLS: /);
  });

  it('is down when the certificate names another host', async () => {
    const result = await httpCheck(
      {
        ...request('https://other.test/ok', { dial: { host: '127.0.0.1', port: securePort } }),
        caFile: path.join(dir, 'ca.crt'),
      },
      options,
    );
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^TLS: .*other\.test/);
  });

  it("trusts the runner's gateway CA only when the request asks and the runner has one", async () => {
    const asked = https({ trust_gateway_ca: true });
    expect(await runCheck(asked, { gatewayCaFile: path.join(dir, 'ca.crt') })).toMatchObject({
      ok: true,
      status: 200,
    });
    expect(await runCheck(asked)).toEqual({
      ok: false,
      detail: 'this node runs no gateway, so it has no gateway CA to trust',
    });
    expect((await runCheck(https(), { gatewayCaFile: path.join(dir, 'ca.crt') })).detail).toMatch(
      /^TLS: /,
    );
  });
});

describe('TCP check', () => {
  it('is up when the port accepts, with the connect time', async () => {
    const result = await tcpCheck({ host: '127.0.0.1', port: plainPort }, options);
    expect(result).toMatchObject({ ok: true });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    expect(
      await runCheck({ kind: 'tcp', host: '127.0.0.1', port: plainPort, timeout_ms: 1_000 }),
    ).toMatchObject({ ok: true });
  });

  it('is down when nothing listens', async () => {
    const port = await freePort();
    expect(await tcpCheck({ host: '127.0.0.1', port }, options)).toEqual({
      ok: false,
      detail: 'connection refused',
    });
  });
});
