// The dashboard's HTTP listener on the hub (loopback; the gateway serves it over HTTPS at the
// stack's `dashboard.host`): login and logout, sessions, CSRF checks, and the routing of
// everything else.
//   /api/v1/*  the hub API for a bearer token (ApiTokenStore) or a session (whose calls that
//              change something also need its CSRF token in `x-csrf-token` and to come from
//              this site); ApiHandler does the rest, so a session can do what its user's
//              scope allows through the API, and nothing more.
//   /login     GET the form, POST a login (lockout and rate limits: login-guard.ts)
//   /logout    POST
//   /assets/*  the pages' stylesheet and script, to anyone (the login page needs them)
//   otherwise  a page, for a session; a visitor without one is sent to /login?next=<path>
// Every answer carries the security headers below. Nothing secret is logged: no password,
// session id, CSRF token or API token; failed logins of names no user has are logged without
// the name (it may be a password typed in the wrong field).
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { BusEvent } from '../../protocol/events.ts';
import { sendError, type ApiHandler } from '../api/api-handler.ts';
import { ApiError, type Principal } from '../api/api-route.ts';
import type { ApiTokenStore } from '../api/api-tokens.ts';
import { clientAddress } from '../client-address.ts';
import { BodyTooLarge, closeAfterAnswer, readCappedBody } from '../http-body.ts';
import { listenHttp, type HttpListener } from '../http-listen.ts';
import { LOGIN_COOKIE, readCookies, SESSION_COOKIE, setCookie } from './cookies.ts';
import type { DashboardUsers } from './dashboard-users.ts';
import { LOGIN_FORM_TTL_MS, LoginCsrf } from './login-csrf.ts';
import { DEFAULT_LOGIN_LIMITS, LoginGuard, type LoginLimits } from './login-guard.ts';
import type { PageAnswer, PageContext } from './pages/page-context.ts';
import { fromSameOrigin, localPath, safeNext } from './same-origin.ts';
import { Sessions, type Session } from './sessions.ts';

/** What the listener needs of the pages (pages/index.ts). */
export interface DashboardPages {
  /** `now`: the listener's clock, for the pages' "5 minutes ago". */
  handlePage(
    method: 'GET' | 'POST',
    pathname: string,
    context: PageContext,
    now: number,
  ): Promise<PageAnswer | undefined>;
  renderLoginPage(options: { error?: string; next?: string; csrf: string }): string;
}

/** The pages' static files, by path below /assets/ (assets/index.ts). */
export type DashboardAssets = Record<string, { type: string; body: Buffer | string }>;

export interface DashboardServerOptions {
  host: string;
  port: number;
  api: ApiHandler;
  tokens: Pick<ApiTokenStore, 'verify'>;
  users: DashboardUsers;
  pages: DashboardPages;
  assets: DashboardAssets;
  log: (line: string) => void;
  /** Logins, failed logins, lockouts and logouts, for the audit log. */
  audit?: (event: BusEvent) => void;
  /**
   * The dashboard's public origin (https://<dashboard.host>): a session's POST must come from
   * it. Without it, from the Host the request was sent to.
   */
  origin?: string;
  /** Milliseconds since the epoch: session timeouts, lockouts and rate limits. */
  now?: () => number;
  loginLimits?: Partial<LoginLimits>;
}

/**
 * No script or style but the dashboard's own files (nothing inline, so injected markup cannot
 * run), forms post only here, and no other site may frame it (clickjacking).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-store',
};

/** What LoginCsrf.cookieValue makes (32 random bytes, base64url): anything else is replaced. */
const LOGIN_COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

/** A login form is a few hundred bytes, a page's form a few more. */
const MAX_FORM_BYTES = 16 * 1024;
/** Headers and a form arrive in well under this; a client trickling them is cut off. */
const REQUEST_TIMEOUT_MS = 30_000;

/** A wait, in whole minutes (at least one), as a person reads it. */
function minutes(ms: number): string {
  const count = Math.max(1, Math.ceil(ms / 60_000));
  return `${count} minute${count === 1 ? '' : 's'}`;
}

/** A request the listener turns down, answered in plain text with its status. */
class Refused extends Error {
  override readonly name = 'Refused';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendText(response: http.ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  response.end(`${text}\n`);
}

function sendHtml(response: http.ServerResponse, status: number, html: string): void {
  response.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  response.end(html);
}

function redirect(response: http.ServerResponse, location: string, cookies: string[] = []): void {
  if (cookies.length > 0) response.setHeader('set-cookie', cookies);
  response.writeHead(303, { location });
  response.end();
}

async function readForm(request: http.IncomingMessage): Promise<URLSearchParams> {
  const type = request.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded'))
    throw new Refused(415, 'a form must be sent as application/x-www-form-urlencoded');
  try {
    return new URLSearchParams((await readCappedBody(request, MAX_FORM_BYTES)).toString('utf8'));
  } catch (error) {
    if (error instanceof BodyTooLarge) throw new Refused(413, error.message);
    throw error;
  }
}

/** A user name as typed: trimmed, lower case (names are), bounded (it keys the lockouts). */
const typedName = (form: URLSearchParams) =>
  (form.get('username') ?? '').trim().toLowerCase().slice(0, 100);

export async function startDashboardServer(options: DashboardServerOptions): Promise<HttpListener> {
  const now = options.now ?? Date.now;
  const sessions = new Sessions();
  const loginCsrf = new LoginCsrf();
  const guard = new LoginGuard({ ...DEFAULT_LOGIN_LIMITS, ...options.loginLimits });
  const { api, users, pages, log } = options;

  const record = (type: string, message: string, data: Record<string, unknown>) => {
    log(`dashboard: ${message}`);
    options.audit?.({ type: `dashboard.${type}`, at: now(), message, data });
  };

  async function sessionOf(request: http.IncomingMessage): Promise<Session | undefined> {
    const id = readCookies(request.headers.cookie).get(SESSION_COOKIE);
    return id === undefined ? undefined : sessions.find(id, now(), (name) => users.find(name));
  }

  /**
   * The login form, with the browser's login cookie (a new one if it has none) and its token.
   * Kept, not replaced: a browser's own request beside the form (a favicon) must not make the
   * form on screen stale.
   */
  function loginPage(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    status: number,
    next: string,
    error?: string,
  ): void {
    const held = readCookies(request.headers.cookie).get(LOGIN_COOKIE);
    const cookie =
      held !== undefined && LOGIN_COOKIE_VALUE.test(held) ? held : loginCsrf.cookieValue();
    response.setHeader('set-cookie', setCookie(LOGIN_COOKIE, cookie, LOGIN_FORM_TTL_MS / 1000));
    const html = pages.renderLoginPage({
      csrf: loginCsrf.token(cookie),
      ...(next === '/' ? {} : { next }),
      ...(error === undefined ? {} : { error }),
    });
    sendHtml(response, status, html);
  }

  async function login(request: http.IncomingMessage, response: http.ServerResponse) {
    const form = await readForm(request);
    const next = safeNext(form.get('next'));
    const cookies = readCookies(request.headers.cookie);
    if (
      !fromSameOrigin(request, options.origin) ||
      !loginCsrf.matches(cookies.get(LOGIN_COOKIE), form.get('csrf'))
    )
      return loginPage(
        request,
        response,
        403,
        next,
        'This login form expired or came from another site: log in again.',
      );
    const name = typedName(form);
    const address = clientAddress(request);
    const at = now();
    const admission = guard.admit(name, address, at);
    if (!admission.allowed) {
      response.setHeader('retry-after', String(Math.ceil(admission.retryAfterMs / 1000)));
      const wait = `try again in ${minutes(admission.retryAfterMs)}`;
      return loginPage(
        request,
        response,
        429,
        next,
        admission.reason === 'locked'
          ? `Too many failed logins for this user: ${wait}.`
          : `Too many login attempts from your address: ${wait}.`,
      );
    }
    const user = await users.verify(name, form.get('password') ?? '');
    if (!user) {
      const known = (await users.find(name)) !== undefined;
      const who = known ? `user ${name}` : 'an unknown user';
      record('login_failed', `failed login of ${who} from ${address}`, {
        ...(known ? { user: name } : {}),
        address,
      });
      if (guard.failed(name, at))
        record(
          'locked',
          `${who} is locked for ${minutes(guard.lockMs)} after repeated failed logins (the last from ${address})`,
          { ...(known ? { user: name } : {}), address },
        );
      return loginPage(request, response, 401, next, 'Wrong user name or password.');
    }
    guard.succeeded(name);
    // Never a session the browser brought: a new id, whatever cookie came with the login.
    const previous = cookies.get(SESSION_COOKIE);
    if (previous !== undefined) sessions.destroy(previous);
    const { id, session } = sessions.create(user, at);
    record('login', `${user.name} (${user.scope}) logged in from ${address}`, {
      user: user.name,
      scope: user.scope,
      address,
    });
    redirect(response, next, [
      setCookie(SESSION_COOKIE, id, (session.expiresAt - at) / 1000),
      setCookie(LOGIN_COOKIE, '', 0),
    ]);
  }

  async function logout(request: http.IncomingMessage, response: http.ServerResponse) {
    const session = await sessionOf(request);
    if (session) {
      const form = await readForm(request);
      if (
        !fromSameOrigin(request, options.origin) ||
        !Sessions.csrfMatches(session, form.get('csrf') ?? undefined)
      )
        throw new Refused(
          403,
          'this logout came from another site or an old page: log out from the dashboard',
        );
      sessions.destroy(readCookies(request.headers.cookie).get(SESSION_COOKIE)!);
      record('logout', `${session.principal.name} logged out`, { user: session.principal.name });
    }
    redirect(response, '/login', [setCookie(SESSION_COOKIE, '', 0)]);
  }

  async function serveApi(request: http.IncomingMessage, response: http.ServerResponse) {
    // Only a bearer: `Basic` is the gateway's extra login (dashboard.basic_auth), which Caddy
    // checks and passes on; behind it, the session is what counts.
    const authorization = request.headers.authorization;
    let principal: Principal | undefined;
    if (authorization !== undefined && /^bearer /i.test(authorization)) {
      // A bearer is the whole credential: a wrong one is refused, not retried as a session.
      principal = await options.tokens.verify(authorization);
      if (!principal) throw new ApiError(401, 'missing or wrong API token');
    } else {
      const session = await sessionOf(request);
      if (!session)
        throw new ApiError(401, 'log in to the dashboard, or send Authorization: Bearer <token>');
      const method = request.method ?? 'GET';
      if (method !== 'GET' && method !== 'HEAD') {
        const token = request.headers['x-csrf-token'];
        if (
          !fromSameOrigin(request, options.origin) ||
          !Sessions.csrfMatches(session, typeof token === 'string' ? token : undefined)
        )
          throw new ApiError(
            403,
            "a call with a session cookie needs the session's x-csrf-token and to come from the dashboard",
          );
      }
      principal = session.principal;
    }
    await api.serve(request, response, principal);
  }

  function serveAsset(request: http.IncomingMessage, response: http.ServerResponse, name: string) {
    if (request.method !== 'GET' && request.method !== 'HEAD')
      throw new Refused(405, 'assets are only read');
    if (!Object.hasOwn(options.assets, name)) throw new Refused(404, 'no such file');
    const asset = options.assets[name]!;
    const etag = `"${createHash('sha256').update(asset.body).digest('base64url').slice(0, 22)}"`;
    // Not hashed in their names: a browser checks back (304) instead of keeping an old one.
    response.setHeader('cache-control', 'no-cache');
    response.setHeader('etag', etag);
    if (request.headers['if-none-match'] === etag) {
      response.writeHead(304);
      return void response.end();
    }
    response.writeHead(200, { 'content-type': asset.type });
    response.end(asset.body);
  }

  async function servePage(request: http.IncomingMessage, response: http.ServerResponse, url: URL) {
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    if (method !== 'GET' && method !== 'POST')
      throw new Refused(405, 'pages are read (GET) or posted (POST)');
    const session = await sessionOf(request);
    if (!session) {
      const back = method === 'GET' ? safeNext(`${url.pathname}${url.search}`) : '/';
      return redirect(
        response,
        back === '/' ? '/login' : `/login?next=${encodeURIComponent(back)}`,
      );
    }
    const context: PageContext = {
      principal: session.principal,
      csrf: session.csrf,
      api,
      query: url.searchParams,
    };
    if (method === 'POST') {
      if (!fromSameOrigin(request, options.origin))
        throw new Refused(403, 'this form came from another site');
      const form = await readForm(request);
      if (!Sessions.csrfMatches(session, form.get('csrf') ?? undefined))
        throw new Refused(
          403,
          'this form is from an old page or another site: reload the page and try again',
        );
      context.form = form;
    }
    const answer = await pages.handlePage(method, url.pathname, context, now());
    if (!answer) throw new Refused(404, `no such page: ${url.pathname}`);
    if ('redirect' in answer) {
      const target = localPath(answer.redirect);
      if (target === undefined)
        throw new Error(`a page redirected off the dashboard (${answer.redirect})`);
      return redirect(response, target);
    }
    sendHtml(response, answer.status ?? 200, answer.html);
  }

  async function handle(request: http.IncomingMessage, response: http.ServerResponse) {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
    const target = request.url ?? '/';
    const url = new URL(
      URL.canParse(target, 'http://dashboard') ? target : '/',
      'http://dashboard',
    );
    const path = url.pathname;
    if (path === '/api/v1' || path.startsWith('/api/v1/')) return serveApi(request, response);
    if (path.startsWith('/assets/'))
      return serveAsset(request, response, path.slice('/assets/'.length));
    if (path === '/logout') {
      if (request.method !== 'POST') throw new Refused(405, 'log out with the button (POST)');
      return logout(request, response);
    }
    if (path !== '/login') return servePage(request, response, url);
    if (request.method === 'POST') return login(request, response);
    if (request.method !== 'GET' && request.method !== 'HEAD')
      throw new Refused(405, 'GET or POST');
    const next = safeNext(url.searchParams.get('next'));
    if (await sessionOf(request)) return redirect(response, next);
    loginPage(request, response, 200, next);
  }

  const server = http.createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) return void response.destroy();
      if (error instanceof ApiError) {
        if (error.status === 401) response.setHeader('www-authenticate', 'Bearer');
        return sendError(response, error);
      }
      if (error instanceof Refused) {
        if (error.status === 413 || error.status === 415) closeAfterAnswer(request, response);
        return sendText(response, error.status, error.message);
      }
      log(
        `dashboard: ${request.method} ${(request.url ?? '').split('?')[0]} failed: ${(error as Error).message}`,
      );
      sendText(response, 500, 'the dashboard failed to answer this; the hub log says why');
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  const listener = await listenHttp(server, options.host, options.port);
  if ((await users.list()).length === 0)
    log(
      'dashboard: no one can log in yet: add a user on the hub node with `flotilla dashboard user add NAME --scope admin`',
    );
  return listener;
}
