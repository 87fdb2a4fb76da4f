// The OpenAPI document says what the hub answers because the answers are checked against the
// same zod schemas here: a real running hub is called on its routes (with a token of the
// route's own scope) and each JSON answer, and the first event of each stream, must parse
// with the route's schema. A route not called here is named, with why.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { HubClient } from '../../../src/cli/hub-client.ts';
import { Daemon } from '../../../src/daemon/daemon.ts';
import type { ApiRoute } from '../../../src/hub/api/api-route.ts';
import { keyDigest, SECRET_VALUE, startApiStack, type ApiStack } from './api-stack.ts';

const ROUTES = Daemon.documentedApiRoutes();

/** Routes this single-machine stack cannot answer with a success, and why. */
const NOT_CALLED: Record<string, string> = {
  'GET /api/v1/nodes': 'a multi-node hub only',
  'POST /api/v1/nodes/token': 'a multi-node hub only',
  'DELETE /api/v1/nodes/:name': 'a multi-node hub only',
  'POST /api/v1/backups/:job': 'the stack has no backup job (test/backup runs them)',
  'POST /api/v1/backups/:job/restore': 'the stack has no backup job (test/backup runs them)',
  'POST /api/v1/alerts/test': 'the stack has no alert channel (test/daemon/monitoring sends one)',
  'POST /api/v1/services/:name/releases': 'the service is not deployed (test/daemon/deploy)',
  'POST /api/v1/services/:name/deploy': 'the service is not deployed (test/daemon/deploy)',
  'POST /api/v1/services/:name/rollback': 'the service is not deployed (test/daemon/deploy)',
  'POST /api/v1/rollback': 'nothing was deployed (test/daemon/deploy)',
  'POST /api/v1/down': 'stops the hub: afterAll does it through the CLI',
};

function routeOf(method: string, path: string): ApiRoute {
  const route = ROUTES.find((candidate) => candidate.method === method && candidate.path === path);
  if (!route) throw new Error(`no route ${method} ${path}`);
  return route;
}

function conforms(schema: z.ZodType | undefined, value: unknown, what: string): void {
  expect(schema, `${what} has a schema`).toBeDefined();
  const parsed = schema!.safeParse(value);
  expect(parsed.success ? [] : parsed.error.issues, `${what}: ${JSON.stringify(value)}`).toEqual(
    [],
  );
}

describe('the hub API answers what its schemas say', { timeout: 180_000 }, () => {
  let stack: ApiStack;
  const called = new Set<string>();
  const tokens: Record<string, string> = {};

  async function json(method: string, path: string, concrete: string, body?: unknown) {
    const route = routeOf(method, path);
    const answer = await stack.call(method, concrete, { token: tokens[route.scope], body });
    expect(answer.status, `${method} ${concrete}: ${answer.text}`).toBe(route.status ?? 200);
    const value: unknown = JSON.parse(answer.text);
    conforms(route.response, value, `${method} ${path}`);
    called.add(`${method} ${path}`);
    return value;
  }

  /** The first event of a stream, checked against the route's schema for it. */
  async function firstEvent(path: string, concrete: string, trigger?: () => Promise<unknown>) {
    const route = routeOf('GET', path);
    const client = new HubClient({ ...stack.endpoint, token: tokens[route.scope]! });
    const abort = new AbortController();
    let first: { event: string; data: unknown } | undefined;
    const streaming = client.events(
      concrete,
      (event, data) => {
        first = { event, data };
        return false;
      },
      abort.signal,
    );
    // A stream of what happens from now on needs something to happen once it is open.
    const timer = trigger
      ? setInterval(() => void trigger().catch(() => undefined), 1_000)
      : undefined;
    await streaming.finally(() => clearInterval(timer));
    expect(first, path).toBeDefined();
    conforms(route.stream?.[first!.event], first!.data, `${path} event ${first!.event}`);
    called.add(`GET ${path}`);
  }

  beforeAll(async () => {
    stack = await startApiStack('apianswers');
    const local = new HubClient(stack.endpoint);
    for (const scope of ['read', 'operate', 'admin'] as const)
      tokens[scope] = (
        await local.post<{ token: string }>('/api/v1/tokens', { name: `${scope}-token`, scope })
      ).token;
  }, 180_000);

  afterAll(() => stack?.stop());

  it('answers the reading routes as described', async () => {
    const status = (await json('GET', '/api/v1/status', '/api/v1/status')) as {
      routes: unknown[];
    };
    expect(status.routes).toHaveLength(1);
    const { routes } = (await json('GET', '/api/v1/routes', '/api/v1/routes')) as {
      routes: { service: string }[];
    };
    expect(routes.map((route) => route.service)).toEqual(['api']);
    await json('GET', '/api/v1/bus', '/api/v1/bus');
    const { nodes } = (await json('GET', '/api/v1/nodes/overview', '/api/v1/nodes/overview')) as {
      nodes: { node: string; up: boolean }[];
    };
    expect(nodes).toEqual([expect.objectContaining({ node: 'local', up: true })]);
    const { events } = (await json(
      'GET',
      '/api/v1/events/recent',
      '/api/v1/events/recent?limit=3',
    )) as { events: unknown[] };
    expect(events.length).toBeGreaterThan(0);
    expect(events.length).toBeLessThanOrEqual(3);
    await json('GET', '/api/v1/monitors', '/api/v1/monitors?urls=1');
    await json('GET', '/api/v1/backups', '/api/v1/backups');
    await json('GET', '/api/v1/deploys', '/api/v1/deploys?limit=5&service=api');
    await json('GET', '/api/v1/services/:name/logs', '/api/v1/services/api/logs?lines=5');
    await json('GET', '/api/v1/services/:name/releases', '/api/v1/services/api/releases');
    const { secrets } = (await json('GET', '/api/v1/secrets', '/api/v1/secrets')) as {
      secrets: { name: string; services: string[] }[];
    };
    expect(secrets).toEqual([expect.objectContaining({ name: 'API_KEY', services: ['api'] })]);
  });

  it('answers the changing routes as described, and never echoes a secret value', async () => {
    await json('POST', '/api/v1/services/:name/restart', '/api/v1/services/api/restart');
    const created = await json('POST', '/api/v1/tokens', '/api/v1/tokens', {
      name: 'short-lived',
      scope: 'read',
      expires_in_ms: 60_000,
    });
    expect(JSON.stringify(await json('GET', '/api/v1/tokens', '/api/v1/tokens'))).not.toContain(
      (created as { token: string }).token,
    );
    await json('DELETE', '/api/v1/tokens/:name', '/api/v1/tokens/short-lived');
    const newValue = `${SECRET_VALUE}-2`;
    const set = await json('PUT', '/api/v1/secrets/:name', '/api/v1/secrets/API_KEY', {
      value: newValue,
    });
    expect(set).toEqual({ name: 'API_KEY', version: 2 });
    const listed = await stack.call('GET', '/api/v1/secrets', { token: tokens.read });
    expect(listed.text).not.toContain(SECRET_VALUE);
    expect(JSON.parse(listed.text).secrets[0].current).toBe(2);
    // The service that uses it was restarted with the new value, as its log says.
    for (const deadline = Date.now() + 60_000; ;) {
      const logs = await stack.call('GET', '/api/v1/services/api/logs?lines=20', {
        token: tokens.read,
      });
      if (logs.text.includes(`listening with key ${keyDigest(newValue)}`)) break;
      if (Date.now() > deadline)
        throw new Error(`the service never ran with the new value: ${logs.text}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const log = await readFile(path.join(stack.stateDir, 'daemon.log'), 'utf8');
    expect(log.includes(newValue), 'the new value in the daemon log').toBe(false);
    await json('POST', '/api/v1/apply', '/api/v1/apply', {});
    // A path on the hub's disk is the hub CLI's to name: a token's caller could read any file.
    const named = await stack.call('POST', '/api/v1/apply', {
      token: tokens.admin,
      body: { file: '/etc/shadow' },
    });
    expect(named.status).toBe(403);
    expect(named.text).not.toContain('root:');
  });

  it('streams events as described', async () => {
    await firstEvent(
      '/api/v1/services/:name/logs/follow',
      '/api/v1/services/api/logs/follow?lines=1',
      () => stack.call('POST', '/api/v1/services/api/restart', { token: tokens.operate }),
    );
    await firstEvent('/api/v1/events', '/api/v1/events', () =>
      stack.call('POST', '/api/v1/services/api/restart', { token: tokens.read }),
    );
  });

  it('leaves no route unchecked without saying why', () => {
    const unchecked = ROUTES.map((route) => `${route.method} ${route.path}`).filter(
      (route) => !called.has(route),
    );
    expect(unchecked.sort()).toEqual(Object.keys(NOT_CALLED).sort());
  });
});
