// SECURITY: the dashboard's sessions under attack, over real HTTP against the real listener
// (test/hub/dashboard/dashboard-fixture.ts: real ApiHandler, tokens and users file; stand-in
// pages). Session fixation: an id planted before login (made up, or the attacker's own live
// session) is never the one the victim ends up with. CSRF: a form post or API call from
// another site, or without the session's token, or with a wrong one, or with the token but
// from another origin, changes nothing; nor does a login form posted from elsewhere (login
// CSRF). Forged and replayed ids get nothing. Lockout cannot be dodged by writing the name
// differently. And nothing secret (password, session id, CSRF token, API token) reaches a log
// line or an audit event.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOGIN_COOKIE, SESSION_COOKIE } from '../../src/hub/dashboard/cookies.ts';
import {
  Browser,
  PASSWORDS,
  startTestDashboard,
  type TestDashboard,
} from '../hub/dashboard/dashboard-fixture.ts';

let dashboard: TestDashboard;

beforeEach(async () => {
  dashboard = await startTestDashboard();
});
afterEach(async () => {
  await dashboard.close();
});

const loggedIn = (name?: keyof typeof PASSWORDS) => dashboard.loggedIn(name);

describe('session fixation', () => {
  it('never promotes a planted id: a made-up one, the login cookie, or the attacker’s own session', async () => {
    const attacker = await loggedIn('reader');
    const attackerId = attacker.cookies.get(SESSION_COOKIE)!;
    for (const planted of ['chosen-by-the-attacker-0123456789abcdefghijklmnop', attackerId]) {
      const victim = dashboard.browser();
      const form = await victim.get('/login');
      victim.cookies.set(SESSION_COOKIE, planted);
      expect((await victim.submitLogin(form, 'alice', PASSWORDS.alice)).status).toBe(303);
      const id = victim.cookies.get(SESSION_COOKIE)!;
      expect(id).not.toBe(planted);
      expect(id).not.toBe(victim.cookies.get(LOGIN_COOKIE));
      expect((await victim.get('/')).text).toContain('<p id="who">alice</p>');
      // The planted id is no way into alice's session.
      expect((await dashboard.holding(planted).get('/')).status).toBe(303);
    }
    // The attacker's session, planted in the victim's browser, ended when she logged in over it.
    expect((await attacker.get('/')).status).toBe(303);
  });

  it('gives each login a new id, and the login cookie is no session', async () => {
    const browser = dashboard.browser();
    await browser.get('/login');
    const loginCookie = browser.cookies.get(LOGIN_COOKIE)!;
    expect((await dashboard.holding(loginCookie).get('/')).status).toBe(303);
    const first = (await loggedIn()).cookies.get(SESSION_COOKIE);
    const second = (await loggedIn()).cookies.get(SESSION_COOKIE);
    expect(first).not.toBe(second);
  });
});

describe('cross-site request forgery', () => {
  const crossSite = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };

  it('refuses a form post without the token, with a wrong one, or from another site; nothing changes', async () => {
    const alice = await loggedIn();
    const csrf = await alice.csrf();
    const attempts = [
      alice.request('POST', '/bump', { form: {} }),
      alice.request('POST', '/bump', {
        form: { csrf: `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}` },
      }),
      alice.request('POST', '/bump', { form: { csrf: 'x' } }),
      // The right token, but the browser says the post comes from elsewhere.
      alice.request('POST', '/bump', { form: { csrf }, headers: crossSite }),
      alice.request('POST', '/bump', { form: { csrf }, headers: { origin: 'null' } }),
      alice.request('POST', '/bump', {
        form: { csrf },
        headers: { 'sec-fetch-site': 'same-site' },
      }),
      // A session's token is its own: reader's does not work in alice's session.
      alice.request('POST', '/bump', { form: { csrf: await (await loggedIn('reader')).csrf() } }),
    ];
    for (const [index, answer] of (await Promise.all(attempts)).entries())
      expect(answer.status, `attempt ${index}`).toBe(403);
    expect(dashboard.counter.bumps).toBe(0);
    expect(dashboard.apiAudit).toEqual([]);
    // The same form with everything right works (the refusals were about CSRF).
    expect((await alice.request('POST', '/bump', { form: { csrf } })).status).toBe(303);
    expect(dashboard.counter.bumps).toBe(1);
  });

  it('refuses an API call with the session cookie but no x-csrf-token, a wrong one, or from another site', async () => {
    const alice = await loggedIn();
    const csrf = await alice.csrf();
    const bump = (headers: Record<string, string>) =>
      alice.request('POST', '/api/v1/counter/bump', { headers });
    const refused: Record<string, string>[] = [
      {},
      { 'x-csrf-token': 'wrong' },
      { 'x-csrf-token': csrf, ...crossSite },
      { 'x-csrf-token': csrf, origin: 'http://127.0.0.1:1' },
    ];
    for (const headers of refused) expect((await bump(headers)).status).toBe(403);
    expect(dashboard.counter.bumps).toBe(0);
    expect((await bump({ 'x-csrf-token': csrf })).status).toBe(200);
  });

  it('with the public origin known, takes posts from that origin only', async () => {
    await dashboard.close();
    dashboard = await startTestDashboard({ origin: 'https://ops.example.com' });
    const alice = await dashboard.loggedIn().catch((error: unknown) => error);
    // The test's own origin (the listener's address) is not the dashboard's.
    expect(alice).toBeInstanceOf(Error);
    const browser = dashboard.browser({
      origin: 'https://ops.example.com',
      'sec-fetch-site': 'same-origin',
    });
    expect((await browser.login('alice', PASSWORDS.alice)).status).toBe(303);
    const csrf = await browser.csrf();
    expect((await browser.request('POST', '/bump', { form: { csrf } })).status).toBe(303);
    const fromListener = { origin: dashboard.url };
    expect(
      (await browser.request('POST', '/bump', { form: { csrf }, headers: fromListener })).status,
    ).toBe(403);
    expect(dashboard.counter.bumps).toBe(1);
  });

  it('refuses a logout from another site (the session stays)', async () => {
    const alice = await loggedIn();
    const answer = await alice.request('POST', '/logout', {
      form: { csrf: await alice.csrf() },
      headers: crossSite,
    });
    expect(answer.status).toBe(403);
    expect((await alice.get('/')).status).toBe(200);
  });

  it('refuses a login form posted from another site, or without the browser’s login cookie', async () => {
    const victim = dashboard.browser(crossSite);
    const form = await victim.get('/login');
    const csrf = Browser.csrfIn(form.text);
    const credentials = { username: 'reader', password: PASSWORDS.reader, next: '/' };
    expect(
      (await victim.request('POST', '/login', { form: { csrf, ...credentials } })).status,
    ).toBe(403);
    // The attacker's own form token, posted by a browser that never fetched the form.
    const fresh = dashboard.browser();
    expect((await fresh.request('POST', '/login', { form: { csrf, ...credentials } })).status).toBe(
      403,
    );
    expect(fresh.cookies.has(SESSION_COOKIE)).toBe(false);
    expect(victim.cookies.has(SESSION_COOKIE)).toBe(false);
  });
});

describe('guessing', () => {
  it('forged or truncated session ids get nothing', async () => {
    const alice = await loggedIn();
    const id = alice.cookies.get(SESSION_COOKIE)!;
    for (const forged of [id.slice(0, -1), `${id}A`, id.toUpperCase(), '', 'undefined']) {
      const browser = dashboard.holding(forged);
      expect((await browser.get('/')).status).toBe(303);
      expect((await browser.get('/api/v1/counter')).status).toBe(401);
    }
  });

  it('cannot dodge a lockout by writing the name differently', async () => {
    const browser = dashboard.browser();
    for (const name of ['alice', 'Alice', ' ALICE', 'alice ', 'aLiCe'])
      expect((await browser.login(name, 'guess')).status).toBe(401);
    expect((await browser.login('alice', PASSWORDS.alice)).status).toBe(429);
  });

  it('locks names no user has like real ones (a lockout does not tell which names exist)', async () => {
    const browser = dashboard.browser();
    const locked: Record<string, { status: number; error?: string }> = {};
    for (const name of ['mallory', 'alice']) {
      for (let attempt = 0; attempt < 5; attempt += 1) await browser.login(name, 'guess');
      const answer = await browser.login(name, 'guess');
      locked[name] = {
        status: answer.status,
        error: /class="error">([^<]*)/.exec(answer.text)?.[1],
      };
    }
    expect(locked.mallory).toEqual(locked.alice);
    expect(locked.alice!.status).toBe(429);
    expect(dashboard.lines).toContain(
      'dashboard: an unknown user is locked for 15 minutes after repeated failed logins (the last from 127.0.0.1)',
    );
  });
});

describe('secrets', () => {
  it('no password, session id, CSRF token or API token reaches a log line or an audit event', async () => {
    const secrets: string[] = [...Object.values(PASSWORDS)];
    const alice = await loggedIn();
    secrets.push(alice.cookies.get(SESSION_COOKIE)!, await alice.csrf());
    // A password typed into the user name field is not logged either.
    await dashboard.browser().login(PASSWORDS.reader, PASSWORDS.alice);
    await dashboard.browser().login('alice', 'a wrong password typed by alice');
    secrets.push('a wrong password typed by alice');
    const { token } = await dashboard.tokens.create('ci', 'read');
    secrets.push(token);
    await dashboard.browser({}).request('GET', '/api/v1/counter', {
      headers: { authorization: `Bearer ${token}` },
    });
    await alice.request('POST', '/api/v1/counter/bump', { headers: { 'x-csrf-token': 'wrong' } });
    await alice.request('POST', '/logout', { form: { csrf: secrets[3]! } });
    const recorded = JSON.stringify([dashboard.lines, dashboard.events, dashboard.apiAudit]);
    expect(dashboard.lines.length).toBeGreaterThanOrEqual(4);
    for (const secret of secrets) expect(recorded).not.toContain(secret);
    expect(recorded).not.toContain(PASSWORDS.reader.toLowerCase());
  });
});
