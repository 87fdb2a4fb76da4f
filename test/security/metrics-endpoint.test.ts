// The hub's Prometheus endpoint answers nothing without its token: no token, a wrong one or
// one of another length gets 401 and no metric text; an address that keeps failing is cut
// off (429) even if it then guesses right, until its budget refills; it never listens on a
// wildcard address; GET /metrics is all it serves, with no request body.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FAILED_AUTH_LIMIT,
  MetricsListenerError,
  startMetricsServer,
  type MetricsServer,
} from '../../src/hub/metrics/metrics-server.ts';
import { clusterSnapshot } from '../hub/metrics/cluster-snapshot.ts';

/** A GET carrying a body, which fetch refuses to send: written on a socket by hand. */
function getWithBody(url: string, headers: Record<string, string>, body: string): Promise<string> {
  const { hostname, port, pathname } = new URL(url);
  const head = Object.entries({ ...headers, host: hostname, 'content-length': body.length })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = net.connect(Number(port), hostname, () =>
      socket.end(`GET ${pathname} HTTP/1.1\r\n${head}\r\n${body}`),
    );
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
  });
}

const token = randomBytes(24).toString('base64url');
const bearer = (value: string) => ({ authorization: `Bearer ${value}` });

describe('the metrics endpoint', () => {
  let server: MetricsServer | undefined;
  let clock = Date.UTC(2026, 11, 1);

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(hosts = ['127.0.0.1']): Promise<string> {
    server = await startMetricsServer({
      hosts,
      port: 0,
      token,
      snapshot: clusterSnapshot,
      now: () => clock,
    });
    return server.urls[0]!;
  }

  it('answers 401 without the right token, and leaks no metric', async () => {
    const url = await start();
    const wrongSameLength = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    for (const headers of [
      {},
      bearer(wrongSameLength),
      bearer(token.slice(0, 8)),
      bearer(`${token}x`),
      { authorization: `Basic ${Buffer.from(`prometheus:${token}`).toString('base64')}` },
    ]) {
      const answer = await fetch(url, { headers });
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const body = await answer.text();
      expect(body).not.toContain('flotilla_');
      expect(body).not.toContain('salem');
    }
    const scraped = await fetch(url, { headers: bearer(token) });
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await scraped.text()).toContain('flotilla_node_up{node="edge",stack="salem"} 0');
  });

  it('cuts off an address after repeated failures, even when it then guesses right', async () => {
    const url = await start();
    for (let attempt = 0; attempt < FAILED_AUTH_LIMIT.count; attempt++)
      expect((await fetch(url, { headers: bearer('guess') })).status).toBe(401);
    const limited = await fetch(url, { headers: bearer('guess') });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await fetch(url, { headers: bearer(token) })).status).toBe(429);
    // One failure's worth of budget comes back after windowMs / count.
    clock += FAILED_AUTH_LIMIT.windowMs / FAILED_AUTH_LIMIT.count;
    expect((await fetch(url, { headers: bearer(token) })).status).toBe(200);
  });

  it('serves GET /metrics only, without a request body', async () => {
    const url = await start();
    const posted = await fetch(url, { method: 'POST', headers: bearer(token), body: '{}' });
    expect(posted.status).toBe(405);
    expect(posted.headers.get('allow')).toBe('GET');
    const other = await fetch(url.replace('/metrics', '/api/v1/query'), { headers: bearer(token) });
    expect(other.status).toBe(404);
    const withBody = await getWithBody(url, bearer(token), 'x'.repeat(100));
    expect(withBody).toMatch(/^HTTP\/1\.1 413 /);
    expect(withBody).not.toContain('flotilla_');
  });

  it('listens on each address given, on one port', async () => {
    await start(['127.0.0.1', '127.0.0.2']);
    const [first, second] = server!.urls;
    expect(new URL(first!).hostname).toBe('127.0.0.1');
    expect(new URL(second!).hostname).toBe('127.0.0.2');
    expect(new URL(second!).port).toBe(new URL(first!).port);
    expect((await fetch(second!, { headers: bearer(token) })).status).toBe(200);
  });

  it('says which port is taken, and leaves no address of a failed start listening', async () => {
    const taken = await start(['127.0.0.2']);
    const port = Number(new URL(taken).port);
    const again = startMetricsServer({
      hosts: ['127.0.0.1', '127.0.0.2'],
      port,
      token,
      snapshot: clusterSnapshot,
    });
    await expect(again).rejects.toBeInstanceOf(MetricsListenerError);
    await expect(again).rejects.toMatchObject({ hint: expect.stringMatching(/free one/) });
    // 127.0.0.1 was taken first, then let go when 127.0.0.2 failed.
    const retaken = await startMetricsServer({
      hosts: ['127.0.0.1'],
      port,
      token,
      snapshot: clusterSnapshot,
    });
    await retaken.close();
  });

  it('refuses wildcard addresses, host names and an empty token', async () => {
    for (const host of ['0.0.0.0', '::', '0:0::0', 'localhost']) {
      const started = startMetricsServer({
        hosts: ['127.0.0.1', host],
        port: 0,
        token,
        snapshot: clusterSnapshot,
      });
      await expect(started).rejects.toBeInstanceOf(MetricsListenerError);
      await expect(started).rejects.toMatchObject({ hint: expect.stringMatching(/loopback|127/) });
    }
    await expect(
      startMetricsServer({ hosts: ['127.0.0.1'], port: 0, token: '', snapshot: clusterSnapshot }),
    ).rejects.toThrow(/token/);
  });
});
