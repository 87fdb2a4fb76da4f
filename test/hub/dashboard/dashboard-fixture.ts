// A dashboard listener for tests: the real listener on 127.0.0.1 (port 0), a real ApiHandler
// over a small route table (a counter to read and bump, an admin-only route), a real API token
// store and users file in a temporary state dir (scrypt at a test-only low cost), and the
// test's clock. The pages and assets are small stand-ins (the real ones are tested on their
// own): a page that names the user, a form that bumps the counter through the API, a page
// that redirects off the site. `Browser` keeps cookies and sends what a browser sends with a
// form post (Origin, Sec-Fetch-Site), so tests can play the user and the attacker.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { BusEvent } from '../../../src/protocol/events.ts';
import type { AuditEntry } from '../../../src/hub/api/api-audit.ts';
import { ApiHandler } from '../../../src/hub/api/api-handler.ts';
import { defineRoute } from '../../../src/hub/api/api-route.ts';
import { ApiTokenStore } from '../../../src/hub/api/api-tokens.ts';
import {
  startDashboardServer,
  type DashboardAssets,
  type DashboardPages,
} from '../../../src/hub/dashboard/dashboard-server.ts';
import { SESSION_COOKIE } from '../../../src/hub/dashboard/cookies.ts';
import { DashboardUsers } from '../../../src/hub/dashboard/dashboard-users.ts';
import type { LoginLimits } from '../../../src/hub/dashboard/login-guard.ts';

/** Low enough for a test to log in dozens of times in well under a second. */
export const TEST_SCRYPT_COST = { N: 2 ** 4, r: 8, p: 1 };

export const PASSWORDS = {
  alice: 'alice: correct horse battery',
  reader: 'reader: staple of the day',
};

const escape = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/** Stand-in pages (test only): just enough HTML to read who is logged in and the CSRF token. */
const pages: DashboardPages = {
  async handlePage(method, pathname, context) {
    if (method === 'GET' && pathname === '/')
      return {
        html: `<p id="who">${escape(context.principal.name)}</p><meta name="csrf" content="${escape(context.csrf)}">`,
      };
    if (method === 'POST' && pathname === '/bump') {
      await context.api.call('POST', '/api/v1/counter/bump', { principal: context.principal });
      return { redirect: '/?done=bump' };
    }
    if (method === 'GET' && pathname === '/elsewhere') return { redirect: 'https://evil.example/' };
    return undefined;
  },
  renderLoginPage: ({ error, next, csrf }) =>
    `<form method="post" action="/login"><input type="hidden" name="csrf" value="${escape(csrf)}">` +
    `<input type="hidden" name="next" value="${escape(next ?? '/')}"></form>` +
    `<p class="error">${escape(error ?? '')}</p>`,
};

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** A browser's view of the dashboard: a cookie jar, form posts with the headers browsers add. */
export class Browser {
  readonly cookies = new Map<string, string>();

  constructor(
    readonly base: string,
    /** The headers this browser adds to a POST: a page of the dashboard's own by default. */
    readonly postHeaders: Record<string, string> = {
      origin: base,
      'sec-fetch-site': 'same-origin',
    },
  ) {}

  async request(
    method: string,
    target: string,
    options: {
      form?: Record<string, string>;
      headers?: Record<string, string>;
      json?: unknown;
    } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = {
      ...(method === 'GET' ? {} : this.postHeaders),
      ...(options.headers ?? {}),
    };
    if (this.cookies.size > 0)
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    let body: string | undefined;
    if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    } else if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    const response = await fetch(new URL(target, this.base), {
      method,
      headers,
      body,
      redirect: 'manual',
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const [name = '', value = ''] = pair.split('=');
      if (attributes.some((attribute) => attribute.trim() === 'Max-Age=0'))
        this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  get = (target: string) => this.request('GET', target);

  /** The CSRF token in a page (the login form's, or a session page's). */
  static csrfIn(html: string): string {
    const match = /name="csrf" (?:value|content)="([^"]+)"/.exec(html);
    if (!match) throw new Error(`no CSRF token in ${html}`);
    return match[1]!;
  }

  /** Fetches the login form and posts it, as a user does. */
  async login(username: string, password: string, next?: string): Promise<Answer> {
    const form = await this.get(
      next === undefined ? '/login' : `/login?next=${encodeURIComponent(next)}`,
    );
    return this.submitLogin(form, username, password);
  }

  /** Posts a login form fetched before. */
  submitLogin(form: Answer, username: string, password: string): Promise<Answer> {
    const next = /name="next" value="([^"]*)"/.exec(form.text)?.[1]?.replace(/&#38;/g, '&');
    return this.request('POST', '/login', {
      form: { csrf: Browser.csrfIn(form.text), next: next ?? '/', username, password },
    });
  }

  /** The session's CSRF token, read from the home page. */
  async csrf(): Promise<string> {
    return Browser.csrfIn((await this.get('/')).text);
  }
}

export interface TestDashboard {
  url: string;
  stateDir: string;
  users: DashboardUsers;
  tokens: ApiTokenStore;
  counter: { bumps: number };
  /** Everything the listener logged, and the events it audited. */
  lines: string[];
  events: BusEvent[];
  apiAudit: AuditEntry[];
  advance(ms: number): void;
  browser(postHeaders?: Record<string, string>): Browser;
  /** A fresh browser holding `id` as its session cookie (planted, stolen or forged). */
  holding(id: string): Browser;
  /** A browser with a session of `name` (a user the fixture made). */
  loggedIn(name?: keyof typeof PASSWORDS): Promise<Browser>;
  close(): Promise<void>;
}

export async function startTestDashboard(
  options: {
    loginLimits?: Partial<LoginLimits>;
    /** The users made before the listener starts: alice (operate) and reader (read). */
    users?: (keyof typeof PASSWORDS)[];
    /** The dashboard's public origin, as the daemon passes it. */
    origin?: string;
    /** The real pages and assets instead of the stand-ins. */
    pages?: DashboardPages;
    assets?: DashboardAssets;
  } = {},
): Promise<TestDashboard> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-dashboard-'));
  let clock = Date.parse('2026-06-01T08:00:00Z');
  const now = () => clock;
  const users = await DashboardUsers.open(stateDir, { cost: TEST_SCRYPT_COST, now });
  for (const name of options.users ?? (['alice', 'reader'] as const))
    await users.add(name, name === 'alice' ? 'operate' : 'read', PASSWORDS[name]);
  const tokens = await ApiTokenStore.open(stateDir, { now });
  const counter = { bumps: 0 };
  const counted = z.object({ bumps: z.number() });
  const routes = [
    defineRoute({
      method: 'GET',
      path: '/api/v1/counter',
      scope: 'read',
      summary: 'the counter',
      response: counted,
      handle: async () => ({ json: { bumps: counter.bumps } }),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/counter/bump',
      scope: 'operate',
      summary: 'bump the counter',
      response: counted,
      handle: async () => ({ json: { bumps: ++counter.bumps } }),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/counter/reset',
      scope: 'admin',
      summary: 'reset the counter',
      response: counted,
      handle: async () => ({ json: { bumps: (counter.bumps = 0) } }),
    }),
  ];
  const apiAudit: AuditEntry[] = [];
  const api = new ApiHandler(routes, { audit: (entry) => apiAudit.push(entry), now });
  const lines: string[] = [];
  const events: BusEvent[] = [];
  const listener = await startDashboardServer({
    host: '127.0.0.1',
    port: 0,
    api,
    tokens,
    users,
    pages: options.pages ?? pages,
    assets: options.assets ?? {
      'app.css': { type: 'text/css; charset=utf-8', body: 'body { margin: 0 }' },
    },
    log: (line) => lines.push(line),
    audit: (event) => events.push(event),
    now,
    ...(options.loginLimits === undefined ? {} : { loginLimits: options.loginLimits }),
    ...(options.origin === undefined ? {} : { origin: options.origin }),
  });
  return {
    url: listener.url,
    stateDir,
    users,
    tokens,
    counter,
    lines,
    events,
    apiAudit,
    advance: (ms) => {
      clock += ms;
    },
    browser: (postHeaders) => new Browser(listener.url, postHeaders),
    holding: (id) => {
      const browser = new Browser(listener.url);
      browser.cookies.set(SESSION_COOKIE, id);
      return browser;
    },
    loggedIn: async (name = 'alice') => {
      const browser = new Browser(listener.url);
      const answer = await browser.login(name, PASSWORDS[name]);
      if (answer.status !== 303) throw new Error(`${name} could not log in: ${answer.status}`);
      return browser;
    },
    close: async () => {
      await listener.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
