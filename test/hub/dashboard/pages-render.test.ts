// Dashboard pages rendered from fixture API answers: a real ApiHandler over stand-in routes
// (fixture data instead of a running hub, so the pages' HTML can be checked exactly). What a
// user sees, which buttons their scope shows, what a button does, and how refusals read.
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { ApiHandler } from '../../../src/hub/api/api-handler.ts';
import type { AuditEntry } from '../../../src/hub/api/api-audit.ts';
import {
  ApiError,
  type ApiRoute,
  type Principal,
  type Scope,
} from '../../../src/hub/api/api-route.ts';
import {
  handlePage,
  renderLoginPage,
  type PageContext,
} from '../../../src/hub/dashboard/pages/index.ts';
import type { StatusReport } from '../../../src/hub/status-report.ts';

const NOW = Date.parse('2026-12-01T06:00:00Z');

const instance = (id: string, node: string, healthy: boolean) => ({
  id,
  service: id.replace(/-\d+$/, ''),
  node,
  state: healthy ? ('running' as const) : ('backoff' as const),
  healthy,
  health_detail: healthy ? 'HTTP 200' : 'connection refused',
  healthy_since: NOW - 60_000,
  started_at: NOW - 252_000,
  restarts: healthy ? 0 : 3,
  ports: { main: 3000 },
  spec_hash: 'x',
});

const STATUS: StatusReport = {
  stack: 'salem',
  nodes: {
    compute: { up: true, reported_at: NOW - 2000 },
    storage: { up: false, reported_at: null },
  },
  instances: [
    instance('api-1', 'compute', true),
    instance('api-2', 'storage', false),
    instance('db-1', 'storage', true),
  ],
  routes: [{ url: 'https://api.example.com/', service: 'api', healthy: 1, total: 2 }],
  gateways: { compute: { in_sync: true } },
  ready: false,
};

function fixtureRoutes(calls: { path: string; body: unknown }[]): ApiRoute[] {
  const json = (
    method: ApiRoute['method'],
    path: string,
    scope: Scope,
    answer: (request: { params: Record<string, string>; body: unknown }) => unknown,
  ): ApiRoute => ({
    method,
    path,
    scope,
    summary: path,
    handle: async (request) => {
      calls.push({ path: `${method} ${path}`, body: request.body });
      return { json: answer(request) };
    },
  });
  return [
    json('GET', '/api/v1/status', 'read', () => STATUS),
    json('GET', '/api/v1/services/:name/logs', 'read', ({ params }) => {
      if (params.name === 'ghost') throw new ApiError(404, 'no service named ghost');
      return { lines: ['api-1 | listening on 3000', 'api-1 | <script>alert(1)</script>'] };
    }),
    json('GET', '/api/v1/monitors', 'read', () => ({
      monitors: [
        {
          name: 'instance:api-1',
          kind: 'instance',
          status: 'up',
          service: 'api',
          uptime: { '24h': 0.5 },
          recent: [
            { at: NOW - 60_000, status: 'down' },
            { at: NOW - 30_000, status: 'up', latencyMs: 3 },
          ],
        },
      ],
    })),
    json('GET', '/api/v1/events/recent', 'read', () => ({
      events: [
        { type: 'health.changed', at: NOW - 5000, message: 'api-2 <b>unhealthy</b>' },
        { type: 'deploy.finished', at: NOW - 1000, message: 'api release 3 live' },
      ],
    })),
    json('POST', '/api/v1/services/:name/restart', 'operate', () => ({ restarted: 2 })),
    json('GET', '/api/v1/secrets', 'read', () => ({
      secrets: [
        {
          name: 'PG_PASSWORD',
          current: 3,
          versions: 3,
          updated_at: NOW - 86_400_000,
          services: ['api', 'db'],
        },
      ],
    })),
    json('GET', '/api/v1/deploys', 'read', () => ({
      events: [
        {
          type: 'deploy.finished',
          at: NOW - 7_200_000,
          service: 'api',
          message: 'api release 2 live',
        },
        {
          type: 'deploy.finished',
          at: NOW - 60_000,
          service: 'api',
          message: 'api release 3 live',
        },
      ],
    })),
    json('GET', '/api/v1/services/:name/releases', 'read', () => ({
      service: 'api',
      current: 3,
      releases: [{ number: 2 }, { number: 3 }],
      lock: null,
    })),
    {
      // As the hub has it: a rollback answers a stream of its steps, then `done` or `failed`.
      method: 'POST',
      path: '/api/v1/services/:name/rollback',
      scope: 'operate',
      summary: 'roll back',
      stream: { step: z.string(), done: z.object({}), failed: z.object({}) },
      handle: async ({ body }) => {
        calls.push({ path: 'POST /api/v1/services/:name/rollback', body });
        return {
          events: async (send) => {
            send('step', 'switching');
            send('done', { release: 2 });
          },
        };
      },
    },
    json('GET', '/api/v1/backups', 'read', () => ({
      jobs: [
        {
          job: 'db',
          node: 'storage',
          schedule: { cron: '0 2 * * *', timezone: 'UTC' },
          status: 'up',
          last_success_at: NOW - 3_600_000,
          last_bytes_added: 1_234_567,
          last_duration_ms: 4200,
          last_verify_at: NOW - 1_800_000,
        },
      ],
    })),
    json('POST', '/api/v1/backups/:job', 'operate', () => ({
      event: {
        type: 'backup.succeeded',
        at: NOW,
        node: 'storage',
        message: 'ok',
        data: { job: 'db', kind: 'postgres', target: 'local', duration_ms: 10 },
      },
    })),
    json('POST', '/api/v1/backups/:job/restore', 'admin', () => ({ restored: 'snapshot abc' })),
  ];
}

function setup(scope: Scope = 'operate') {
  const calls: { path: string; body: unknown }[] = [];
  const audit: AuditEntry[] = [];
  const api = new ApiHandler(fixtureRoutes(calls), {
    audit: (entry) => audit.push(entry),
  });
  const principal: Principal = { kind: 'session', name: 'ada', scope };
  const context = (query = '', form?: URLSearchParams): PageContext => ({
    principal,
    csrf: 'csrf-token-1',
    api,
    query: new URLSearchParams(query),
    ...(form === undefined ? {} : { form }),
  });
  const get = async (path: string, query = '') => {
    const answer = await handlePage('GET', path, context(query), NOW);
    if (answer === undefined || !('html' in answer)) throw new Error(`no page at ${path}`);
    return answer;
  };
  return { calls, audit, context, get };
}

describe('dashboard pages (fixture API routes)', () => {
  it('the overview shows nodes, services with their healthy instances and recent events', async () => {
    const { get } = setup();
    const { status, html } = await get('/');
    expect(status).toBe(200);
    expect(html).toContain('<meta name="csrf-token" content="csrf-token-1"');
    expect(html).toContain('<a class="skip-link" href="#main">');
    expect(html).toMatch(/<main id="main"/);
    expect(html).toMatch(/<nav aria-label="Main"/);
    expect(html).toMatch(/<h1>\s*Stack salem\s*<\/h1>/);
    expect(html).toMatch(/<a href="\/services\/api">api<\/a>/);
    expect(html).toMatch(/data-field="healthy">\s*1\/2\s*</);
    expect(html).toMatch(/<th scope="row">\s*storage\s*<\/th>/);
    // Event text is escaped; the newest event comes first.
    expect(html).toContain('api-2 &lt;b&gt;unhealthy&lt;/b&gt;');
    expect(html.indexOf('api release 3 live')).toBeLessThan(html.indexOf('api-2 &lt;b&gt;'));
    expect(html).toContain('aria-current="page"');
  });

  it('a service page lists instances, health history and escaped logs; an operator gets Restart', async () => {
    const { get } = setup('operate');
    const { html } = await get('/services/api');
    expect(html).toMatch(/data-instance="api-2"/);
    expect(html).toContain('connection refused');
    expect(html).toContain('api-1 | &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('data-follow="/api/v1/services/api/logs/follow"');
    expect(html).toMatch(/aria-label="instance:api-1: last 2 checks, 1 down"/);
    expect(html).toMatch(/action="\/services\/api\/restart"/);
    expect(html).toMatch(/name="csrf" value="csrf-token-1"/);
  });

  it('a reader sees no Restart, Run or Verify button', async () => {
    const { get } = setup('read');
    expect((await get('/services/api')).html).not.toMatch(/\/restart"/);
    const backups = (await get('/backups')).html;
    expect(backups).toContain('1.2 MB');
    expect(backups).not.toMatch(/\/backups\/db\/run"/);
  });

  it('Restart posts to the API and redirects back with a flash message', async () => {
    const { calls, audit, context, get } = setup('operate');
    const answer = await handlePage('POST', '/services/api/restart', context(), NOW);
    expect(answer).toEqual({ redirect: '/services/api?done=restarted&count=2' });
    expect(calls.map((call) => call.path)).toContain('POST /api/v1/services/:name/restart');
    expect(audit).toMatchObject([{ method: 'POST', status: 200, principal: { name: 'ada' } }]);
    const { html } = await get('/services/api', 'done=restarted&count=2');
    expect(html).toMatch(
      /role="status">\s*Restarted 2 instances, each healthy before the next.\s*</,
    );
  });

  it("a reader's posted Restart gets the API's 403 as a flash on the page, not a crash", async () => {
    const { calls, context } = setup('read');
    const answer = await handlePage('POST', '/services/api/restart', context(), NOW);
    expect(answer).toMatchObject({ status: 403 });
    const html = (answer as { html: string }).html;
    expect(html).toMatch(/role="alert">[^<]*needs the operate scope; ada has read/);
    expect(html).toMatch(/data-instance="api-1"/);
    expect(html).not.toMatch(/at .*\.ts:\d+/);
    expect(calls.map((call) => call.path)).not.toContain('POST /api/v1/services/:name/restart');
  });

  it('an API error renders an error page with its message and status', async () => {
    const { get } = setup();
    const answer = await get('/services/ghost');
    expect(answer.status).toBe(404);
    expect(answer.html).toMatch(/<h1>\s*Not found\s*<\/h1>/);
    expect(answer.html).toContain('no service named ghost');
  });

  it('an operator may run and verify but not restore (admin)', async () => {
    const { get } = setup('operate');
    const backups = (await get('/backups')).html;
    expect(backups).toMatch(/action="\/backups\/db\/run"/);
    expect(backups).toMatch(/action="\/backups\/db\/verify"/);
    expect(backups).not.toMatch(/href="\/backups\/db\/restore"/);
    const restore = await get('/backups/db/restore');
    expect(restore.html).not.toMatch(/<form method="post" action="\/backups\/db\/restore"/);
    expect(restore.html).toContain('Your operate scope may not restore backups.');
  });

  it('a restore needs the job name typed; with it the API gets confirm', async () => {
    const { calls, context, get } = setup('admin');
    expect((await get('/backups')).html).toMatch(/href="\/backups\/db\/restore"/);
    const page = (await get('/backups/db/restore')).html;
    expect(page).toMatch(/<label for="confirm">/);
    const wrong = await handlePage(
      'POST',
      '/backups/db/restore',
      context('', new URLSearchParams({ confirm: 'nope' })),
      NOW,
    );
    expect(wrong).toMatchObject({ status: 400 });
    expect((wrong as { html: string }).html).toContain('type the job&#39;s name, db, to confirm');
    expect(calls.some((call) => call.path === 'POST /api/v1/backups/:job/restore')).toBe(false);
    const right = await handlePage(
      'POST',
      '/backups/db/restore',
      context('', new URLSearchParams({ confirm: 'db' })),
      NOW,
    );
    expect(right).toEqual({ redirect: '/backups?done=restored&job=db' });
    expect(calls.at(-1)).toEqual({
      path: 'POST /api/v1/backups/:job/restore',
      body: { action: 'restore', confirm: 'db' },
    });
  });

  it('Run posts a backup and a flash names the job; odd flash values show nothing', async () => {
    const { context, get } = setup('operate');
    expect(await handlePage('POST', '/backups/db/run', context(), NOW)).toEqual({
      redirect: '/backups?done=backup-run&job=db',
    });
    expect((await get('/backups', 'done=backup-run&job=db')).html).toContain('Backup db finished.');
    expect((await get('/backups', 'done=backup-run&job=%3Cb%3E')).html).not.toContain(
      'role="status"',
    );
  });

  it('routes, secrets, monitors and deploys render their tables', async () => {
    const { get } = setup('operate');
    const routes = (await get('/routes')).html;
    expect(routes).toMatch(/<a href="https:\/\/api.example.com\/">/);
    expect(routes).toMatch(/1\/2/);
    const secrets = (await get('/secrets')).html;
    expect(secrets).toMatch(/<th scope="row">\s*PG_PASSWORD\s*<\/th>/);
    expect(secrets).toContain('api, db');
    const monitors = (await get('/monitors')).html;
    expect(monitors).toContain('1 monitors, 0 down');
    expect(monitors).toContain('50.00 %');
    const deploys = (await get('/deploys')).html;
    expect(deploys.indexOf('api release 3 live')).toBeLessThan(
      deploys.indexOf('api release 2 live'),
    );
  });

  it('Roll back shows where a previous release exists, and runs the rollback to its end', async () => {
    const { calls, context, get } = setup('operate');
    expect((await get('/deploys')).html).toMatch(/action="\/deploys\/api\/rollback"/);
    expect(await handlePage('POST', '/deploys/api/rollback', context(), NOW)).toEqual({
      redirect: '/deploys?done=rolled-back&service=api',
    });
    expect(calls.at(-1)).toEqual({
      path: 'POST /api/v1/services/:name/rollback',
      body: { by: 'ada (dashboard)' },
    });
    expect((await get('/deploys', 'done=rolled-back&service=api')).html).toContain(
      'Rolled api back to its previous release.',
    );
  });

  it('unknown pages and actions are not found (undefined)', async () => {
    const { context } = setup();
    expect(await handlePage('GET', '/nope', context(), NOW)).toBeUndefined();
    expect(await handlePage('POST', '/services/api', context(), NOW)).toBeUndefined();
    expect(await handlePage('GET', '/services/', context(), NOW)).toBeUndefined();
  });

  it('the login page posts username, password, csrf and next, with labels and an escaped error', () => {
    const html = renderLoginPage({ csrf: 'c1', next: '/backups', error: 'wrong <password>' });
    expect(html).toMatch(/<form method="post" action="\/login"/);
    for (const field of ['username', 'password'])
      expect(html).toMatch(new RegExp(`<label for="${field}">`));
    expect(html).toMatch(/name="next" value="\/backups"/);
    expect(html).toMatch(/name="csrf" value="c1"/);
    expect(html).toContain('wrong &lt;password&gt;');
    expect(html).not.toMatch(/<nav/);
  });
});
