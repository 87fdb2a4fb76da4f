// SECURITY: a heartbeat push token is the only proof a ping needs, so the listener must not
// help anyone find one or use one for another monitor. Guessing from one address gets 404s,
// then 429 for everything that address sends (the real token too: a 429 is no oracle), also
// through the real gateway, where a client's own X-Forwarded-For must not buy a fresh budget;
// a monitor's token signals that monitor only (not another of the stack, not the same name in
// another stack); and no log line holds a token, whatever the listener has to say.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_PUSH_LIMITS,
  startPushListener,
  type PushLimits,
} from '../../src/hub/monitoring/push-listener.ts';
import type { Ping } from '../../src/hub/monitoring/push-protocols.ts';
import { derivePushToken, PushTokenTable } from '../../src/hub/monitoring/push-tokens.ts';
import type { HttpListener } from '../../src/hub/http-listen.ts';
import { routeTable } from '../../src/plan/routes.ts';
import { parseStackText } from '../../src/spec/load.ts';
import { startCaddy, type CaddyProcess } from '../helpers/caddy-process.ts';
import { gatewayRequest } from '../helpers/https-get.ts';
import { freePort } from '../helpers/ports.ts';

const run = promisify(execFile);

const KEY = randomBytes(32);
const MONITORS = ['nightly-backup', 'invoice-run'];
const tokenOf = (monitor: string, stack = 'shop') => derivePushToken(KEY, stack, monitor);
const MISSES = DEFAULT_PUSH_LIMITS.missesPerAddress.count;

interface Harness extends HttpListener {
  pings: { monitor: string; ping: Ping }[];
  logs: string[];
  clock: { now: number };
}

async function listen(
  options: {
    port?: number;
    limits?: Partial<PushLimits>;
    onPing?: (monitor: string, ping: Ping) => void;
  } = {},
): Promise<Harness> {
  const pings: Harness['pings'] = [];
  const logs: string[] = [];
  const clock = { now: 1_700_000_000_000 };
  const table = new PushTokenTable(
    MONITORS.map((monitor) => ({ monitor, token: tokenOf(monitor) })),
  );
  const listener = await startPushListener({
    host: '127.0.0.1',
    port: options.port ?? 0,
    tokens: () => table,
    onPing: (monitor, ping) => {
      options.onPing?.(monitor, ping);
      pings.push({ monitor, ping });
    },
    log: (line) => logs.push(line),
    now: () => clock.now,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  return { ...listener, pings, logs, clock };
}

/** Listeners a test started, closed after it. */
const started: Harness[] = [];
afterEach(() => Promise.all(started.splice(0).map((server) => server.close())));

async function listenForTest(options: Parameters<typeof listen>[0] = {}): Promise<Harness> {
  const server = await listen(options);
  started.push(server);
  return server;
}

/** A guess at a token, shaped like a derived one. */
const guess = () => randomBytes(32).toString('base64url');

/** A ping from `address` as the gateway forwards it (the listener's peer is loopback). */
async function get(base: string, target: string, address?: string): Promise<number> {
  const headers: Record<string, string> =
    address === undefined ? {} : { 'x-forwarded-for': address };
  const response = await fetch(`${base}${target}`, { headers });
  await response.arrayBuffer();
  return response.status;
}

describe('SECURITY: guessing push tokens', () => {
  it('gets 404s, then 429 for everything from that address, the real token too', async () => {
    const server = await listenForTest();
    const real = tokenOf('nightly-backup');
    const attacker = '198.51.100.23';
    for (let i = 0; i < MISSES; i++) {
      const target = i % 2 === 0 ? `/ping/${guess()}` : `/api/push/${guess()}?status=up`;
      expect(await get(server.url, target, attacker)).toBe(404);
    }
    expect(await get(server.url, `/ping/${guess()}`, attacker)).toBe(429);
    // Refused before the lookup: the answer is the same whether the token is right or not.
    expect(await get(server.url, `/ping/${real}`, attacker)).toBe(429);
    expect(await get(server.url, `/ping/${real}/fail`, attacker)).toBe(429);
    expect(server.pings).toEqual([]);

    // Another address is not held for it; the attacker's budget comes back with time.
    expect(await get(server.url, `/ping/${real}`, '198.51.100.24')).toBe(200);
    server.clock.now += 60_000;
    expect(await get(server.url, `/ping/${real}`, attacker)).toBe(200);
    expect(server.pings.map((p) => p.monitor)).toEqual(['nightly-backup', 'nightly-backup']);
  });

  it('counts an IPv6 client by its /64: a new address in the same /64 is no new budget', async () => {
    const server = await listenForTest({
      limits: { missesPerAddress: { count: 2, windowMs: 60_000 } },
    });
    expect(await get(server.url, `/ping/${guess()}`, '2001:db8:5:7::1')).toBe(404);
    expect(await get(server.url, `/ping/${guess()}`, '2001:db8:5:7:ffff::2')).toBe(404);
    expect(await get(server.url, `/ping/${guess()}`, '2001:0db8:0005:0007:1:2:3:4')).toBe(429);
    expect(await get(server.url, `/ping/${guess()}`, '2001:db8:5:8::1')).toBe(404);
  });

  describe('through the real gateway (Caddy, the plan’s push routes)', () => {
    let caddy: CaddyProcess;
    let gateway: Harness;
    let httpsPort: number;
    let ca: string;
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-push-security-'));
      gateway = await listen();
      const parsed = parseStackText(
        [
          'name: shop',
          'nodes:',
          '  hub: { address: 127.0.0.1, gateway: true }',
          'services: {}',
          'monitoring:',
          `  push: { host: push.localhost, port: ${new URL(gateway.url).port} }`,
          'monitors:',
          ...MONITORS.map((monitor) => `  ${monitor}: { heartbeat: { period: 1d } }`),
        ].join('\n'),
        'flotilla.yml',
      );
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.diagnostics));
      const routes = routeTable(parsed.stack, [], {}, 'hub');
      httpsPort = await freePort();
      caddy = await startCaddy({ stack: 'push-security' });
      await caddy.serve(routes, { httpPort: await freePort(), httpsPort });
      ca = await caddy.rootCertificate();
      await writeFile(path.join(dir, 'root.crt'), ca);
    });

    afterAll(async () => {
      await caddy?.stop();
      await gateway?.close();
      await rm(dir, { recursive: true, force: true });
    });

    const through = (target: string, spoofed?: string) =>
      gatewayRequest({
        host: 'push.localhost',
        port: httpsPort,
        path: target,
        ca,
        ...(spoofed === undefined ? {} : { headers: { 'x-forwarded-for': spoofed } }),
      });

    it('takes the crontab line over HTTPS, and Kuma’s push: one ping each', async () => {
      await run('curl', [
        ...['-fsS', '-m', '10', '--retry', '5', '-o', '/dev/null'],
        ...['--cacert', path.join(dir, 'root.crt')],
        ...['--resolve', `push.localhost:${httpsPort}:127.0.0.1`],
        `https://push.localhost:${httpsPort}/ping/${tokenOf('invoice-run')}/0`,
      ]);
      expect(gateway.pings.map((p) => [p.monitor, p.ping.signal, p.ping.exitCode])).toEqual([
        ['invoice-run', 'success', 0],
      ]);
      const kuma = await through(`/api/push/${tokenOf('nightly-backup')}?status=down&msg=x`);
      expect([kuma.status, JSON.parse(kuma.body)]).toEqual([200, { ok: true }]);
    });

    it('a spoofed X-Forwarded-For buys no fresh budget: Caddy says who connected', async () => {
      for (let i = 0; i < MISSES; i++) {
        const answer = await through(`/ping/${guess()}`, `203.0.113.${i + 1}`);
        expect([answer.status, answer.body]).toEqual([404, 'not found']);
      }
      const refused = await through(`/ping/${tokenOf('invoice-run')}`, '203.0.113.250');
      expect(refused.status).toBe(429);
      expect(gateway.logs.join('\n')).toContain('127.0.0.1 sent too many unknown tokens');
    });
  });
});

describe('SECURITY: a token signals its own monitor only', () => {
  let server: Harness;
  beforeAll(async () => (server = await listen()));
  afterAll(() => server.close());

  it('every form with one monitor’s token reaches that monitor and no other', async () => {
    const token = tokenOf('nightly-backup');
    for (const target of [
      `/ping/${token}`,
      `/ping/${token}/start`,
      `/ping/${token}/fail`,
      `/ping/${token}/7`,
      `/api/push/${token}?status=down`,
    ])
      expect(await get(server.url, target)).toBe(200);
    expect(new Set(server.pings.map((p) => p.monitor))).toEqual(new Set(['nightly-backup']));
    expect(server.pings).toHaveLength(5);
  });

  it('near misses of a token, and the same monitor’s token in another stack, are 404', async () => {
    server.pings.length = 0;
    const token = tokenOf('invoice-run');
    const flipped = token[0] === 'A' ? `B${token.slice(1)}` : `A${token.slice(1)}`;
    for (const near of [
      token.slice(0, -1),
      `${token}x`,
      flipped,
      token.toUpperCase(),
      tokenOf('invoice-run', 'other-stack'),
      `${tokenOf('nightly-backup')}/../${token.slice(0, 10)}`,
    ])
      expect(await get(server.url, `/ping/${near}`)).toBe(404);
    expect(server.pings).toEqual([]);
  });
});

describe('SECURITY: tokens never reach the log', () => {
  it('not in the lines on throttled monitors, guessing addresses, floods or failed pings', async () => {
    const server = await listenForTest({
      limits: {
        perMonitor: { count: 2, windowMs: 60_000 },
        perAddress: { count: 50, windowMs: 60_000 },
        missesPerAddress: { count: 3, windowMs: 60_000 },
      },
      onPing: (monitor) => {
        if (monitor === 'invoice-run') throw new Error('the bus is unreachable');
      },
    });
    const tokens = [tokenOf('nightly-backup'), tokenOf('invoice-run')];
    const guesses = Array.from({ length: 5 }, guess);
    for (let i = 0; i < 4; i++) await get(server.url, `/ping/${tokens[0]}/fail`, '192.0.2.1');
    expect(await get(server.url, `/api/push/${tokens[1]}`, '192.0.2.1')).toBe(503);
    for (const wrong of guesses) await get(server.url, `/ping/${wrong}`, '192.0.2.2');
    for (let i = 0; i < 60; i++) await get(server.url, `/ping/${tokens[0]}`, '192.0.2.3');

    const logged = server.logs.join('\n');
    // Each kind of line was written (the test would prove nothing otherwise) …
    expect(logged).toContain('monitor nightly-backup is pinged too often');
    expect(logged).toContain('192.0.2.2 sent too many unknown tokens');
    expect(logged).toContain('192.0.2.3 sends too many pings');
    expect(logged).toContain(
      'a ping of monitor invoice-run was not recorded: the bus is unreachable',
    );
    // … and none holds a token or a guess, whole or in part.
    for (const secret of [...tokens, ...guesses]) {
      expect(logged).not.toContain(secret);
      expect(logged).not.toContain(secret.slice(0, 12));
    }
  });
});
