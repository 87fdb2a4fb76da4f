// The dashboard's listener over real HTTP on loopback, with a real ApiHandler, token store and
// users file (dashboard-fixture.ts; stand-in pages): logging in and out, wrong passwords and
// the lockout (and its end, on the test's clock), the per-address login limit, sessions timing
// out (idle and absolute) and ending when their user is removed or changed by another writer
// of the users file (the CLI), scopes enforced through a session, bearer tokens on /api/v1,
// `next` kept on the site, the assets, and the security headers on every answer.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assets } from '../../../src/hub/dashboard/assets/index.ts';
import { LOGIN_COOKIE, SESSION_COOKIE } from '../../../src/hub/dashboard/cookies.ts';
import * as realPages from '../../../src/hub/dashboard/pages/index.ts';
import { DashboardUsers } from '../../../src/hub/dashboard/dashboard-users.ts';
import {
  ABSOLUTE_TIMEOUT_MS,
  IDLE_TIMEOUT_MS,
  MAX_SESSIONS_PER_USER,
} from '../../../src/hub/dashboard/sessions.ts';
import {
  Browser,
  PASSWORDS,
  startTestDashboard,
  TEST_SCRYPT_COST,
  type Answer,
  type TestDashboard,
} from './dashboard-fixture.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let dashboard: TestDashboard;

beforeEach(async () => {
  dashboard = await startTestDashboard();
});
afterEach(async () => {
  await dashboard.close();
});

const errorOf = (answer: Answer) => /<p class="error">([^<]*)<\/p>/.exec(answer.text)?.[1];

const loggedIn = (name?: keyof typeof PASSWORDS) => dashboard.loggedIn(name);

describe('login and logout', () => {
  it('logs a user in with a session cookie browsers guard, and shows their pages', async () => {
    const browser = dashboard.browser();
    const form = await browser.get('/login');
    expect(form.status).toBe(200);
    const answer = await browser.login('alice', PASSWORDS.alice);
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/');
    const cookie = answer.headers.getSetCookie().find((line) => line.startsWith(SESSION_COOKIE));
    expect(cookie).toMatch(/^__Host-flotilla_session=[A-Za-z0-9_-]{43}; /);
    for (const attribute of ['Path=/', 'Secure', 'HttpOnly', 'SameSite=Strict'])
      expect(cookie!.split('; ')).toContain(attribute);
    const home = await browser.get('/');
    expect(home.status).toBe(200);
    expect(home.text).toContain('<p id="who">alice</p>');
    expect(dashboard.lines).toContain('dashboard: alice (operate) logged in from 127.0.0.1');
    expect(dashboard.events.map((event) => event.type)).toEqual(['dashboard.login']);
    // A logged-in user asking for the login page goes where they wanted.
    expect((await browser.get('/login?next=/routes')).headers.get('location')).toBe('/routes');
  });

  it('refuses a wrong password or an unknown user the same way, and logs neither password', async () => {
    const browser = dashboard.browser();
    const wrong = await browser.login('alice', 'not the password at all');
    const unknown = await browser.login('mallory', 'not the password at all');
    for (const answer of [wrong, unknown]) {
      expect(answer.status).toBe(401);
      expect(errorOf(answer)).toBe('Wrong user name or password.');
    }
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(false);
    expect((await browser.get('/')).status).toBe(303);
    expect(dashboard.lines).toEqual([
      'dashboard: failed login of user alice from 127.0.0.1',
      'dashboard: failed login of an unknown user from 127.0.0.1',
    ]);
    expect(dashboard.events.map((event) => [event.type, event.data?.user])).toEqual([
      ['dashboard.login_failed', 'alice'],
      ['dashboard.login_failed', undefined],
    ]);
  });

  it('keeps the form on screen usable when the browser fetches something beside it (a favicon)', async () => {
    const browser = dashboard.browser();
    const form = await browser.get('/login');
    const cookie = browser.cookies.get(LOGIN_COOKIE);
    expect((await browser.get('/favicon.ico')).status).toBe(303);
    expect((await browser.get('/login')).status).toBe(200);
    expect(browser.cookies.get(LOGIN_COOKIE)).toBe(cookie);
    expect((await browser.submitLogin(form, 'alice', PASSWORDS.alice)).status).toBe(303);
    expect(dashboard.events.map((event) => event.type)).toEqual(['dashboard.login']);
  });

  it('says at start when no one can log in yet, and how to add a user', async () => {
    expect(dashboard.lines).toEqual([]);
    await dashboard.close();
    dashboard = await startTestDashboard({ users: [] });
    expect(dashboard.lines).toEqual([
      'dashboard: no one can log in yet: add a user on the hub node with `flotilla dashboard user add NAME --scope admin`',
    ]);
  });

  it('takes the user name in any case and with spaces around it', async () => {
    const browser = dashboard.browser();
    expect((await browser.login(' Alice ', PASSWORDS.alice)).status).toBe(303);
  });

  it('logs out: the session is gone on the server, not only in the browser', async () => {
    const browser = await loggedIn();
    const stolen = browser.cookies.get(SESSION_COOKIE)!;
    const answer = await browser.request('POST', '/logout', {
      form: { csrf: await browser.csrf() },
    });
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/login');
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(false);
    const replay = dashboard.holding(stolen);
    expect((await replay.get('/')).status).toBe(303);
    expect((await replay.get('/api/v1/counter')).status).toBe(401);
    expect(dashboard.lines.at(-1)).toBe('dashboard: alice logged out');
  });
});

describe('lockout', () => {
  it('locks a user after 5 failures in 15 minutes, right password or not, until 15 minutes pass', async () => {
    const browser = dashboard.browser();
    for (let attempt = 0; attempt < 5; attempt += 1) {
      if (attempt > 0) dashboard.advance(3 * MINUTE);
      expect((await browser.login('alice', `wrong ${attempt}`)).status).toBe(401);
    }
    const right = await browser.login('alice', PASSWORDS.alice);
    const wrong = await browser.login('alice', 'wrong again');
    for (const answer of [right, wrong]) {
      expect(answer.status).toBe(429);
      expect(errorOf(answer)).toBe(
        'Too many failed logins for this user: try again in 15 minutes.',
      );
      expect(answer.headers.get('retry-after')).toBe(String(15 * 60));
    }
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(false);
    expect(dashboard.lines).toContain(
      'dashboard: user alice is locked for 15 minutes after repeated failed logins (the last from 127.0.0.1)',
    );
    // Another user is not locked with her.
    expect((await dashboard.browser().login('reader', PASSWORDS.reader)).status).toBe(303);
    dashboard.advance(15 * MINUTE - 1);
    expect((await browser.login('alice', PASSWORDS.alice)).status).toBe(429);
    dashboard.advance(1);
    expect((await browser.login('alice', PASSWORDS.alice)).status).toBe(303);
  });

  it('counts only the failures within 15 minutes, and a login clears them', async () => {
    const browser = dashboard.browser();
    for (let attempt = 0; attempt < 4; attempt += 1)
      await browser.login('alice', `wrong ${attempt}`);
    dashboard.advance(15 * MINUTE);
    await browser.login('alice', 'wrong once more'); // the first four are out of the window
    expect((await browser.login('alice', PASSWORDS.alice)).status).toBe(303);
    const later = dashboard.browser();
    for (let attempt = 0; attempt < 4; attempt += 1)
      expect((await later.login('alice', `wrong ${attempt}`)).status).toBe(401);
    expect((await later.login('alice', PASSWORDS.alice)).status).toBe(303);
  });

  it('limits login attempts per client address (429), behind the gateway by X-Forwarded-For', async () => {
    await dashboard.close();
    dashboard = await startTestDashboard({
      loginLimits: { perAddress: { count: 3, windowMs: 15 * MINUTE } },
    });
    const from = (address: string) =>
      dashboard.browser({
        origin: dashboard.url,
        'sec-fetch-site': 'same-origin',
        'x-forwarded-for': address,
      });
    const guesser = from('203.0.113.7');
    for (const name of ['alice', 'reader', 'bob'])
      expect((await guesser.login(name, 'guess')).status).toBe(401);
    const refused = await guesser.login('alice', PASSWORDS.alice);
    expect(refused.status).toBe(429);
    expect(errorOf(refused)).toBe(
      'Too many login attempts from your address: try again in 5 minutes.',
    );
    // Another client, even in the same IPv4 /24, has its own budget.
    expect((await from('203.0.113.8').login('alice', PASSWORDS.alice)).status).toBe(303);
  });
});

describe('sessions', () => {
  it('end after 12 hours without a request', async () => {
    const browser = await loggedIn();
    dashboard.advance(IDLE_TIMEOUT_MS);
    expect((await browser.get('/')).status).toBe(200); // a request restarts the idle clock
    dashboard.advance(IDLE_TIMEOUT_MS + 1);
    const answer = await browser.get('/');
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/login');
  });

  it('end 7 days after login, however busy', async () => {
    const browser = await loggedIn();
    for (let elapsed = 0; elapsed + 11 * HOUR < ABSOLUTE_TIMEOUT_MS; elapsed += 11 * HOUR) {
      dashboard.advance(11 * HOUR);
      expect((await browser.get('/')).status).toBe(200);
    }
    dashboard.advance(ABSOLUTE_TIMEOUT_MS % (11 * HOUR));
    expect((await browser.get('/')).status).toBe(303);
  });

  it('end when the user is removed, or removed and added again with another scope, by another writer', async () => {
    const browser = await loggedIn();
    const reader = await loggedIn('reader');
    // The CLI's view of the same file: the hub rereads it when it changes.
    const cli = await DashboardUsers.open(dashboard.stateDir, { cost: TEST_SCRYPT_COST });
    expect(await cli.remove('alice')).toBe(true);
    expect((await browser.get('/')).status).toBe(303);
    expect((await browser.login('alice', PASSWORDS.alice)).status).toBe(401);
    expect((await reader.get('/')).status).toBe(200);

    await cli.remove('reader');
    await cli.add('reader', 'admin', PASSWORDS.reader);
    expect((await reader.get('/')).status).toBe(303);
    await cli.add('carol', 'read', 'carol: a fresh new password');
    expect((await dashboard.browser().login('carol', 'carol: a fresh new password')).status).toBe(
      303,
    );
  });

  it('are at most 20 per user: a 21st login ends the oldest', async () => {
    const first = await loggedIn();
    const others: Browser[] = [];
    for (let login = 1; login < MAX_SESSIONS_PER_USER; login += 1) {
      dashboard.advance(MINUTE); // within the per-address login limit
      others.push(await loggedIn());
    }
    expect((await first.get('/')).status).toBe(200);
    await loggedIn();
    expect((await first.get('/')).status).toBe(303);
    expect((await others[0]!.get('/')).status).toBe(200);
    expect((await (await loggedIn('reader')).get('/')).status).toBe(200);
  });

  it('send a visitor without one to the login page and back (only to a path on this site)', async () => {
    const visitor = dashboard.browser();
    const answer = await visitor.get('/services/web?tab=logs');
    expect(answer.headers.get('location')).toBe('/login?next=%2Fservices%2Fweb%3Ftab%3Dlogs');
    const login = await visitor.login('alice', PASSWORDS.alice, '/services/web?tab=logs');
    expect(login.headers.get('location')).toBe('/services/web?tab=logs');

    for (const next of [
      'https://evil.example/',
      '//evil.example/x',
      '/\\evil.example',
      '/.//evil.example',
      'javascript:alert(1)',
      '/login',
      '/x\r\nset-cookie: a=b',
    ]) {
      // Through the login page's link, and posted with the form as it is.
      const viaLink = await dashboard.browser().login('alice', PASSWORDS.alice, next);
      const browser = dashboard.browser();
      const csrf = Browser.csrfIn((await browser.get('/login')).text);
      const posted = await browser.request('POST', '/login', {
        form: { csrf, next, username: 'alice', password: PASSWORDS.alice },
      });
      for (const answer of [viaLink, posted]) {
        expect(answer.status).toBe(303);
        expect(answer.headers.get('location'), next).toBe('/');
      }
    }
  });

  it('do not follow a page that redirects off the site', async () => {
    const browser = await loggedIn();
    const answer = await browser.get('/elsewhere');
    expect(answer.status).toBe(500);
    expect(answer.headers.get('location')).toBeNull();
  });
});

describe('the API through the dashboard', () => {
  it('gives a session its user scope: read reads, operate acts, neither administers', async () => {
    const alice = await loggedIn();
    const reader = await loggedIn('reader');
    const csrf = { alice: await alice.csrf(), reader: await reader.csrf() };
    const bump = (browser: Browser, token: string) =>
      browser.request('POST', '/api/v1/counter/bump', { headers: { 'x-csrf-token': token } });
    expect((await reader.get('/api/v1/counter')).text).toBe('{"bumps":0}');
    expect((await bump(reader, csrf.reader)).status).toBe(403);
    expect((await bump(alice, csrf.alice)).status).toBe(200);
    const reset = await alice.request('POST', '/api/v1/counter/reset', {
      headers: { 'x-csrf-token': csrf.alice },
    });
    expect(reset.status).toBe(403);
    expect(dashboard.counter.bumps).toBe(1);
    expect(
      dashboard.apiAudit.map((entry) => [entry.principal.name, entry.path, entry.status]),
    ).toEqual([
      ['reader', '/api/v1/counter/bump', 403],
      ['alice', '/api/v1/counter/bump', 200],
      ['alice', '/api/v1/counter/reset', 403],
    ]);
  });

  it('serves a session behind the gateway’s extra basic-auth login (Authorization: Basic)', async () => {
    const alice = await loggedIn();
    const basic = { authorization: `Basic ${Buffer.from('ops:gate').toString('base64')}` };
    const read = await alice.request('GET', '/api/v1/counter', { headers: basic });
    expect(read.status).toBe(200);
    const bump = await alice.request('POST', '/api/v1/counter/bump', {
      headers: { ...basic, 'x-csrf-token': await alice.csrf() },
    });
    expect(bump.status).toBe(200);
    expect(
      (await dashboard.browser().request('GET', '/api/v1/counter', { headers: basic })).status,
    ).toBe(401);
  });

  it('the pages act through the API as the user: a reader cannot bump through a form either', async () => {
    const reader = await loggedIn('reader');
    const answer = await reader.request('POST', '/bump', { form: { csrf: await reader.csrf() } });
    expect(answer.status).toBe(403);
    const alice = await loggedIn();
    const done = await alice.request('POST', '/bump', { form: { csrf: await alice.csrf() } });
    expect(done.headers.get('location')).toBe('/?done=bump');
    expect(dashboard.counter.bumps).toBe(1);
  });

  it('takes bearer tokens with their scope, and refuses a wrong one even beside a session', async () => {
    const { token } = await dashboard.tokens.create('ci', 'read');
    const client = dashboard.browser({});
    const bearer = (value: string) => ({ headers: { authorization: `Bearer ${value}` } });
    expect((await client.request('GET', '/api/v1/counter', bearer(token))).status).toBe(200);
    expect((await client.request('POST', '/api/v1/counter/bump', bearer(token))).status).toBe(403);
    const wrong = await client.request(
      'GET',
      '/api/v1/counter',
      bearer(`${token.slice(0, -1)}${token.endsWith('x') ? 'y' : 'x'}`),
    );
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
    expect((await client.get('/api/v1/counter')).status).toBe(401);
    const alice = await loggedIn();
    expect((await alice.request('GET', '/api/v1/counter', bearer('flt_nope'))).status).toBe(401);
    // Tokens need no CSRF header: nothing ambient carries them.
    const operate = await dashboard.tokens.create('deployer', 'operate');
    expect(
      (await client.request('POST', '/api/v1/counter/bump', bearer(operate.token))).status,
    ).toBe(200);
  });
});

describe('every answer', () => {
  it('carries the security headers; HTML and API answers are not cached, assets are revalidated', async () => {
    const alice = await loggedIn();
    const answers = {
      login: await dashboard.browser().get('/login'),
      page: await alice.get('/'),
      missing: await alice.get('/no-such-page'),
      api: await alice.get('/api/v1/counter'),
      unauthorized: await dashboard.browser().get('/api/v1/counter'),
      asset: await alice.get('/assets/app.css'),
      redirect: await dashboard.browser().get('/'),
    };
    expect(answers.missing.status).toBe(404);
    for (const [name, answer] of Object.entries(answers)) {
      const csp = answer.headers.get('content-security-policy') ?? '';
      expect(csp, name).toContain("default-src 'self'");
      expect(csp, name).toContain("frame-ancestors 'none'");
      expect(csp, name).not.toContain('unsafe-inline');
      expect(answer.headers.get('x-content-type-options'), name).toBe('nosniff');
      expect(answer.headers.get('referrer-policy'), name).toBe('same-origin');
      expect(answer.headers.get('cache-control'), name).toBe(
        name === 'asset' ? 'no-cache' : 'no-store',
      );
    }
    expect(answers.asset.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(answers.asset.text).toBe('body { margin: 0 }');
    const again = await alice.request('GET', '/assets/app.css', {
      headers: { 'if-none-match': answers.asset.headers.get('etag')! },
    });
    expect(again.status).toBe(304);
    expect((await alice.get('/assets/none.js')).status).toBe(404);
    expect((await alice.get('/assets/__proto__')).status).toBe(404);
  });
});

describe('with the real pages', () => {
  it('their login form logs in, their logout button logs out, their assets are served', async () => {
    await dashboard.close();
    dashboard = await startTestDashboard({ pages: realPages, assets });
    const browser = dashboard.browser();
    const form = await browser.get('/login?next=/routes');
    expect(form.text).toContain('action="/login"');
    expect(
      (await browser.submitLogin(form, 'alice', PASSWORDS.alice)).headers.get('location'),
    ).toBe('/routes');
    // The overview asks routes this test's API does not have: an error page, in the layout.
    const page = await browser.get('/');
    expect(page.text).toContain('action="/logout"');
    const logout = await browser.request('POST', '/logout', {
      form: { csrf: Browser.csrfIn(page.text) },
    });
    expect(logout.headers.get('location')).toBe('/login');
    expect((await browser.get('/')).status).toBe(303);
    for (const name of ['dashboard.css', 'dashboard.js'])
      expect((await browser.get(`/assets/${name}`)).status).toBe(200);
  });
});
