// The heartbeat push listener over real HTTP on loopback: every Healthchecks.io form
// (success, start, fail, exit codes, log, run ids, a POSTed job output as the message) and
// every Uptime Kuma push form (status up/down/default, msg, ping) becomes the right ping, or
// none; unknown tokens are 404 in each dialect's words; other methods are refused; bodies are
// kept to 10 KB and refused over 100 KB; a monitor pinged in a loop is cut to its rate.
// The crontab lines Healthchecks and Kuma give their users run here with the real curl.
// The clock is the test's: rate limits refill only when it moves.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_PUSH_LIMITS,
  MAX_PING_BODY_BYTES,
  startPushListener,
  type PushLimits,
} from '../../../src/hub/monitoring/push-listener.ts';
import { PING_MESSAGE_BYTES, type Ping } from '../../../src/hub/monitoring/push-protocols.ts';
import {
  derivePushToken,
  PushTokenConflict,
  PushTokenTable,
} from '../../../src/hub/monitoring/push-tokens.ts';

const run = promisify(execFile);
/** The flags of the curl line Healthchecks tells users to put in their crontab. */
const CRONTAB_CURL = ['-fsS', '-m', '10', '--retry', '5'];

const HUB_KEY = Buffer.from('a hub key of 32 bytes, for tests', 'utf8');
const NIGHTLY = derivePushToken(HUB_KEY, 'shop', 'nightly-backup');
/** A token an existing Kuma client keeps (heartbeat.token). */
const KUMA = 'qD3kZ8mWx1';

interface Received {
  monitor: string;
  ping: Ping;
  at: number;
}

interface Listener {
  url: string;
  pings: Received[];
  logs: string[];
  clock: { now: number };
  close(): Promise<void>;
}

async function listen(limits: Partial<PushLimits> = {}): Promise<Listener> {
  const pings: Received[] = [];
  const logs: string[] = [];
  const clock = { now: 1_700_000_000_000 };
  const table = new PushTokenTable([
    { monitor: 'nightly-backup', token: NIGHTLY },
    { monitor: 'kuma-job', token: KUMA },
  ]);
  const listener = await startPushListener({
    host: '127.0.0.1',
    port: 0,
    tokens: () => table,
    onPing: (monitor, ping, at) => pings.push({ monitor, ping, at }),
    log: (line) => logs.push(line),
    now: () => clock.now,
    limits,
  });
  return { ...listener, pings, logs, clock };
}

/** One listener for a describe block (filled in before its tests), its pings cleared before each. */
function sharedListener(): Listener {
  const shared = {} as Listener;
  beforeAll(async () => void Object.assign(shared, await listen()));
  afterAll(() => shared.close());
  beforeEach(() => void (shared.pings.length = 0));
  return shared;
}

interface Answer {
  status: number;
  type: string;
  body: string;
  headers: Headers;
}

async function send(
  base: string,
  target: string,
  init: { method?: string; body?: string } = {},
): Promise<Answer> {
  const response = await fetch(`${base}${target}`, {
    method: init.method ?? 'GET',
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    body: await response.text(),
    headers: response.headers,
  };
}

describe('Healthchecks.io pings', () => {
  const server = sharedListener();

  const forms: [string, string, string | undefined, Omit<Ping, 'token' | 'protocol'> | null][] = [
    ['GET', '', undefined, { signal: 'success' }],
    ['HEAD', '', undefined, { signal: 'success' }],
    ['POST', '', 'backup: 1.2 GB', { signal: 'success', message: 'backup: 1.2 GB' }],
    ['GET', '/start', undefined, { signal: 'start' }],
    ['GET', '/start?rid=6e0a1a12-4f34-4f4e-9fb2-0d2b1c7a8e11', undefined, { signal: 'start' }],
    ['POST', '/fail', 'pg_dump failed', { signal: 'fail', message: 'pg_dump failed' }],
    ['GET', '/0', undefined, { signal: 'success', exitCode: 0 }],
    ['POST', '/3', 'exit 3', { signal: 'fail', exitCode: 3, message: 'exit 3' }],
    ['GET', '/255', undefined, { signal: 'fail', exitCode: 255 }],
    ['POST', '/log', 'still copying', null],
  ];
  for (const [method, suffix, body, expected] of forms)
    it(`${method} /ping/<token>${suffix}${body === undefined ? '' : ' with a body'}`, async () => {
      const answer = await send(server.url, `/ping/${NIGHTLY}${suffix}`, {
        method,
        ...(body === undefined ? {} : { body }),
      });
      expect(answer.status).toBe(200);
      expect(answer.type).toBe('text/plain; charset=utf-8');
      expect(answer.body).toBe(method === 'HEAD' ? '' : 'OK');
      expect(server.pings).toEqual(
        expected === null
          ? []
          : [
              {
                monitor: 'nightly-backup',
                ping: { token: NIGHTLY, protocol: 'healthchecks', ...expected },
                at: server.clock.now,
              },
            ],
      );
    });

  it('an exit code over 255 is a bad URL, as Healthchecks says, and no ping', async () => {
    const answer = await send(server.url, `/ping/${NIGHTLY}/256`);
    expect([answer.status, answer.body]).toEqual([400, 'invalid url format']);
    expect(server.pings).toEqual([]);
  });

  it('an unknown token, action or path is `not found` (404), and no ping', async () => {
    for (const target of [
      `/ping/${NIGHTLY.slice(1)}`,
      `/ping/${NIGHTLY}/stop`,
      `/ping/${NIGHTLY}/3/x`,
      '/ping/',
      `/ping/${KUMA}x`,
      '/',
    ]) {
      const answer = await send(server.url, target);
      expect([target, answer.status, answer.type, answer.body]).toEqual([
        target,
        404,
        'text/plain; charset=utf-8',
        'not found',
      ]);
    }
    expect(server.pings).toEqual([]);
  });

  it('PUT and DELETE are refused (405, Allow), and no ping', async () => {
    for (const method of ['PUT', 'DELETE']) {
      const answer = await send(server.url, `/ping/${NIGHTLY}`, { method });
      expect(answer.status).toBe(405);
      expect(answer.headers.get('allow')).toBe('GET, HEAD, POST');
    }
    expect(server.pings).toEqual([]);
  });
});

describe('Uptime Kuma pushes', () => {
  const server = sharedListener();

  const forms: [string, string, Omit<Ping, 'token' | 'protocol'>][] = [
    ['GET', '', { signal: 'success' }],
    ['GET', '?status=up&msg=OK&ping=', { signal: 'success', message: 'OK' }],
    ['GET', '?status=up&msg=OK&ping=12.5', { signal: 'success', message: 'OK', pingMs: 12.5 }],
    ['GET', '?status=down&msg=disk%20full', { signal: 'fail', message: 'disk full' }],
    ['GET', '?status=&ping=abc', { signal: 'success' }],
    ['POST', '?status=down', { signal: 'fail' }],
  ];
  for (const [method, query, expected] of forms)
    it(`${method} /api/push/<token>${query}`, async () => {
      const answer = await send(server.url, `/api/push/${KUMA}${query}`, { method });
      expect([answer.status, answer.type]).toEqual([200, 'application/json; charset=utf-8']);
      expect(JSON.parse(answer.body)).toEqual({ ok: true });
      expect(server.pings).toEqual([
        {
          monitor: 'kuma-job',
          ping: { token: KUMA, protocol: 'kuma', ...expected },
          at: server.clock.now,
        },
      ]);
    });

  it('an unknown token is 404 {"ok":false} in Kuma’s words, and no ping', async () => {
    for (const target of [`/api/push/${KUMA.toLowerCase()}?status=up`, '/api/push/', '/api/push']) {
      const answer = await send(server.url, target);
      expect(answer.status).toBe(404);
      expect(JSON.parse(answer.body)).toEqual({
        ok: false,
        msg: 'Monitor not found or not active.',
      });
    }
    expect(server.pings).toEqual([]);
  });

  it('PUT is refused (405) with a Kuma-shaped answer', async () => {
    const answer = await send(server.url, `/api/push/${KUMA}`, { method: 'PUT' });
    expect(answer.status).toBe(405);
    expect(JSON.parse(answer.body)).toMatchObject({ ok: false });
    expect(server.pings).toEqual([]);
  });
});

describe('bodies', () => {
  const server = sharedListener();

  it('keeps the first 10 KB of a job’s output as the message, never half a character', async () => {
    const output = randomBytes(15_000).toString('hex');
    expect(
      (await send(server.url, `/ping/${NIGHTLY}/1`, { method: 'POST', body: output })).status,
    ).toBe(200);
    expect(server.pings[0]!.ping.message).toBe(output.slice(0, PING_MESSAGE_BYTES));

    // 'a' then two-byte characters: byte 10,240 falls inside one, which is left out.
    const accented = `a${'é'.repeat(6000)}`;
    await send(server.url, `/ping/${NIGHTLY}/fail`, { method: 'POST', body: accented });
    expect(server.pings[1]!.ping.message).toBe(`a${'é'.repeat(5119)}`);
  });

  it('refuses a body over 100 KB (413) and still serves', async () => {
    const answer = await send(server.url, `/ping/${NIGHTLY}`, {
      method: 'POST',
      body: 'x'.repeat(MAX_PING_BODY_BYTES + 1),
    });
    expect(answer.status).toBe(413);
    expect(server.pings).toEqual([]);
    expect((await send(server.url, `/ping/${NIGHTLY}`)).status).toBe(200);
  });

  it('refuses a chunked body (no length) once it passes 100 KB, with a 413, not a reset', async () => {
    const { port } = new URL(server.url);
    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request(
        { host: '127.0.0.1', port, method: 'POST', path: `/ping/${NIGHTLY}` },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      // The server stops reading at the cap: a write after it may fail, the answer must not.
      request.on('error', reject);
      request.write(Buffer.alloc(MAX_PING_BODY_BYTES + 1, 'x'));
    });
    expect(status).toBe(413);
    expect(server.pings).toEqual([]);
  });
});

describe('rate limits', () => {
  let server: Listener | undefined;
  afterEach(() => server?.close());

  it('a monitor takes 60 pings a minute; the 61st is 429 with Retry-After, until the clock moves', async () => {
    server = await listen();
    expect(DEFAULT_PUSH_LIMITS.perMonitor).toEqual({ count: 60, windowMs: 60_000 });
    for (let i = 0; i < 60; i++)
      expect((await send(server.url, `/ping/${NIGHTLY}`)).status).toBe(200);
    const refused = await send(server.url, `/ping/${NIGHTLY}`);
    expect([refused.status, refused.headers.get('retry-after')]).toEqual([429, '1']);
    const kuma = await send(server.url, `/api/push/${KUMA}`);
    expect(kuma.status).toBe(200); // another monitor's budget is its own
    expect(server.pings.filter((p) => p.monitor === 'nightly-backup')).toHaveLength(60);
    expect(server.logs).toEqual([
      'push listener: monitor nightly-backup is pinged too often; refusing some (429)',
    ]);
    server.clock.now += 1000; // one ping's worth of refill
    expect((await send(server.url, `/ping/${NIGHTLY}`)).status).toBe(200);
    expect((await send(server.url, `/ping/${NIGHTLY}`)).status).toBe(429);
  });

  it('a Kuma client over its rate gets a Kuma-shaped 429', async () => {
    server = await listen({ perMonitor: { count: 1, windowMs: 60_000 } });
    await send(server.url, `/api/push/${KUMA}`);
    const refused = await send(server.url, `/api/push/${KUMA}?status=down`);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toMatchObject({ ok: false });
    expect(server.pings.map((p) => p.ping.signal)).toEqual(['success']);
  });

  it('one address gets so many requests across monitors, another address its own', async () => {
    server = await listen({ perAddress: { count: 3, windowMs: 60_000 } });
    const fromGateway = (address: string) => ({ 'x-forwarded-for': address });
    const statuses = [];
    for (const token of [NIGHTLY, KUMA, NIGHTLY, KUMA]) {
      const target = token === KUMA ? `/api/push/${token}` : `/ping/${token}`;
      const response = await fetch(`${server.url}${target}`, {
        headers: fromGateway('203.0.113.5'),
      });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    const other = await fetch(`${server.url}/ping/${NIGHTLY}`, {
      headers: fromGateway('203.0.113.6'),
    });
    expect(other.status).toBe(200);
    expect(server.pings).toHaveLength(4);
  });
});

describe('the crontab lines users already have, run with the real curl', () => {
  const server = sharedListener();
  let dir: string;
  beforeAll(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-push-test-'))));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('Healthchecks’ `curl -fsS -m 10 --retry 5 -o /dev/null <url>` is one success ping', async () => {
    await run('curl', [...CRONTAB_CURL, '-o', '/dev/null', `${server.url}/ping/${NIGHTLY}`]);
    expect(server.pings.map((p) => [p.monitor, p.ping.signal, p.ping.protocol])).toEqual([
      ['nightly-backup', 'success', 'healthchecks'],
    ]);
  });

  it('a job’s output and exit status, as Healthchecks documents (`--data-binary @log <url>/$?`)', async () => {
    const log = path.join(dir, 'job.log');
    await writeFile(log, 'rsync: connection unexpectedly closed\n');
    await run('curl', [
      ...CRONTAB_CURL,
      '--data-binary',
      `@${log}`,
      `${server.url}/ping/${NIGHTLY}/12`,
    ]);
    expect(server.pings.map((p) => p.ping)).toEqual([
      {
        token: NIGHTLY,
        protocol: 'healthchecks',
        signal: 'fail',
        exitCode: 12,
        message: 'rsync: connection unexpectedly closed\n',
      },
    ]);
  });

  it('Kuma’s push URL as Kuma shows it (`?status=up&msg=OK&ping=`)', async () => {
    const { stdout } = await run('curl', [
      '-fsS',
      '-m',
      '10',
      `${server.url}/api/push/${KUMA}?status=up&msg=OK&ping=`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ ok: true });
    expect(server.pings.map((p) => [p.monitor, p.ping.signal, p.ping.message])).toEqual([
      ['kuma-job', 'success', 'OK'],
    ]);
  });

  it('a wrong token makes `curl -f` fail (exit 22), so the job sees it', async () => {
    const failed = run('curl', [
      '-fsS',
      '-m',
      '10',
      '-o',
      '/dev/null',
      `${server.url}/ping/not-a-token`,
    ]);
    await expect(failed).rejects.toMatchObject({ code: 22 });
    expect(server.pings).toEqual([]);
  });
});

describe('push tokens', () => {
  it('are derived the same each time, and differ per stack, monitor and hub key', () => {
    const token = derivePushToken(HUB_KEY, 'shop', 'nightly-backup');
    expect(token).toBe(NIGHTLY);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const others = [
      derivePushToken(HUB_KEY, 'shop2', 'nightly-backup'),
      derivePushToken(HUB_KEY, 'shop', 'nightly-backup2'),
      derivePushToken(Buffer.from('another hub key of 32 bytes.....'), 'shop', 'nightly-backup'),
      // The separator keeps (stack, monitor) pairs apart that concatenate alike.
      derivePushToken(HUB_KEY, 'shopn', 'ightly-backup'),
    ];
    expect(new Set([token, ...others]).size).toBe(5);
  });

  it('find their monitor, and only their own', () => {
    const table = new PushTokenTable([
      { monitor: 'a', token: 'token-of-a' },
      { monitor: 'b', token: 'token-of-b' },
    ]);
    expect(table.find('token-of-a')).toBe('a');
    expect(table.find('token-of-b')).toBe('b');
    for (const guess of ['token-of-', 'token-of-c', 'TOKEN-OF-A', 'token-of-a ', ''])
      expect(table.find(guess)).toBeUndefined();
  });

  it('one token given to two monitors is refused, naming the monitors, not the token', () => {
    const build = () =>
      new PushTokenTable([
        { monitor: 'a', token: 'shared-secret-token' },
        { monitor: 'b', token: 'shared-secret-token' },
      ]);
    expect(build).toThrow(PushTokenConflict);
    expect(build).toThrow('heartbeat monitors a and b have the same push token');
    try {
      build();
    } catch (error) {
      expect((error as PushTokenConflict).hint).toMatch(/heartbeat\.token/);
      expect(JSON.stringify(error) + String(error)).not.toContain('shared-secret-token');
    }
  });
});
