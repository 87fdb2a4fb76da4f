// ApiHandler behind a real HTTP listener: routes, scopes, the rate limit per principal (with
// Retry-After, on an injected clock), validation, the audit entry of every call that is not a
// GET (refusals too), server-sent events, and `call` for server-rendered pages.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AuditEntry } from '../../../src/hub/api/api-audit.ts';
import { ApiHandler } from '../../../src/hub/api/api-handler.ts';
import { ApiError, defineRoute, type Principal } from '../../../src/hub/api/api-route.ts';
import { listenHttp, type HttpListener } from '../../../src/hub/http-listen.ts';

const reader: Principal = { kind: 'token', name: 'reader', scope: 'read' };
const operator: Principal = { kind: 'token', name: 'operator', scope: 'operate' };

describe('ApiHandler', () => {
  const audit: AuditEntry[] = [];
  let restarts = 0;
  let now = 0;
  let listener: HttpListener;
  const principals = new Map<string, Principal>([
    ['reader', reader],
    ['operator', operator],
  ]);
  const handler = new ApiHandler(
    [
      defineRoute({
        method: 'GET',
        path: '/api/v1/things/:name',
        scope: 'read',
        summary: 'a thing',
        query: z.object({ lines: z.coerce.number().int().positive().default(3) }),
        response: z.object({ name: z.string(), lines: z.number() }),
        handle: async ({ params, queryValues }) => ({
          json: { name: params.name!, lines: queryValues.lines },
        }),
      }),
      defineRoute({
        method: 'POST',
        path: '/api/v1/things/:name/restart',
        scope: 'operate',
        summary: 'restart a thing',
        body: z.strictObject({ why: z.string() }),
        handle: async ({ params }) => {
          if (params.name === 'missing') throw new ApiError(404, 'no such thing');
          restarts++;
          return { json: { restarted: params.name } };
        },
      }),
      defineRoute({
        method: 'GET',
        path: '/api/v1/ticks',
        scope: 'read',
        summary: 'ticks',
        stream: { tick: z.number() },
        handle: async () => ({
          events: async (send) => {
            send('tick', 1);
            send('tick', 2);
          },
        }),
      }),
      defineRoute({
        method: 'POST',
        path: '/api/v1/things/:name/rollback',
        scope: 'operate',
        summary: 'roll a thing back, step by step',
        stream: { step: z.string(), done: z.object({ to: z.number() }), failed: z.object({}) },
        handle: async ({ params }) => ({
          events: async (send) => {
            send('step', 'stopping');
            if (params.name === 'stuck')
              send('failed', { step: 'gate', error: 'stuck did not turn healthy' });
            else send('done', { to: 4 });
          },
        }),
      }),
    ],
    {
      audit: (entry) => audit.push(entry),
      rateLimit: { count: 5, windowMs: 10_000 },
      now: () => now,
    },
  );

  async function request(
    who: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
    const response = await fetch(`${listener.url}${path}`, {
      method,
      headers: { 'x-who': who, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      text: await response.text(),
    };
  }

  beforeAll(async () => {
    // The listener's whole job: say who calls (here, a header; in the hub, a token).
    const server = http.createServer((incoming, response) => {
      void handler.serve(incoming, response, principals.get(String(incoming.headers['x-who']))!);
    });
    listener = await listenHttp(server, '127.0.0.1', 0);
  });
  afterAll(() => listener.close());

  it('answers a route with its params and parsed query, and refuses what does not fit', async () => {
    expect(JSON.parse((await request('reader', 'GET', '/api/v1/things/a?lines=7')).text)).toEqual({
      name: 'a',
      lines: 7,
    });
    expect(JSON.parse((await request('reader', 'GET', '/api/v1/things/b')).text).lines).toBe(3);
    expect((await request('reader', 'GET', '/api/v1/things/a?lines=-1')).status).toBe(400);
    expect((await request('reader', 'GET', '/api/v1/nothing')).status).toBe(404);
    expect((await request('reader', 'DELETE', '/api/v1/things/a')).status).toBe(404);
  });

  it('refuses a scope too low before the handler runs, and audits it', async () => {
    audit.length = 0;
    const refused = await request('reader', 'POST', '/api/v1/things/a/restart', { why: 'x' });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text).error).toMatch(/needs the operate scope/);
    expect(restarts).toBe(0);
    expect((await request('operator', 'POST', '/api/v1/things/a/restart', {})).status).toBe(400);
    expect(restarts).toBe(0);
    expect(
      (await request('operator', 'POST', '/api/v1/things/missing/restart', { why: 'x' })).status,
    ).toBe(404);
    expect(
      (await request('operator', 'POST', '/api/v1/things/a/restart', { why: 'x' })).status,
    ).toBe(200);
    expect(restarts).toBe(1);
    expect(
      audit.map(({ principal, method, path, params, status }) => [
        principal.name,
        method,
        path,
        params,
        status,
      ]),
    ).toEqual([
      ['reader', 'POST', '/api/v1/things/:name/restart', { name: 'a' }, 403],
      ['operator', 'POST', '/api/v1/things/:name/restart', { name: 'a' }, 400],
      ['operator', 'POST', '/api/v1/things/:name/restart', { name: 'missing' }, 404],
      ['operator', 'POST', '/api/v1/things/:name/restart', { name: 'a' }, 200],
    ]);
  });

  it('limits each principal on its own, with Retry-After, until the budget refills', async () => {
    now = 1_000_000;
    for (let call = 0; call < 5; call++)
      expect((await request('reader', 'GET', '/api/v1/things/a')).status).toBe(200);
    const limited = await request('reader', 'GET', '/api/v1/things/a');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another principal's budget is its own.
    expect((await request('operator', 'GET', '/api/v1/things/a')).status).toBe(200);
    now += Number(limited.headers['retry-after']) * 1000;
    expect((await request('reader', 'GET', '/api/v1/things/a')).status).toBe(200);
  });

  it('streams server-sent events', async () => {
    now += 60_000;
    const streamed = await request('reader', 'GET', '/api/v1/ticks');
    expect(streamed.headers['content-type']).toBe('text/event-stream');
    expect(streamed.text).toBe('event: tick\ndata: 1\n\nevent: tick\ndata: 2\n\n');
  });

  it('answers a page in process with the same checks', async () => {
    now += 60_000;
    audit.length = 0;
    expect(await handler.call('GET', '/api/v1/things/p', { principal: reader })).toEqual({
      name: 'p',
      lines: 3,
    });
    await expect(
      handler.call('POST', '/api/v1/things/p/restart', { principal: reader, body: { why: 'x' } }),
    ).rejects.toMatchObject({ status: 403 });
    await expect(handler.call('GET', '/api/v1/ticks', { principal: reader })).rejects.toMatchObject(
      { status: 400 },
    );
    expect(
      await handler.call('POST', '/api/v1/things/p/restart', {
        principal: operator,
        body: { why: 'x' },
      }),
    ).toEqual({ restarted: 'p' });
    expect(audit.map((entry) => entry.status)).toEqual([403, 200]);
  });

  it('runs a stream that ends to its result in process, and a failure as an error', async () => {
    now += 60_000;
    audit.length = 0;
    expect(
      await handler.call('POST', '/api/v1/things/p/rollback', { principal: operator }),
    ).toEqual({ to: 4 });
    await expect(
      handler.call('POST', '/api/v1/things/stuck/rollback', { principal: operator }),
    ).rejects.toMatchObject({ status: 400, message: 'stuck did not turn healthy' });
    expect(audit.map((entry) => entry.status)).toEqual([200, 400]);
  });
});
