// Keeping the dashboard's requests and redirects on its own site.
//
// A request that changes something with a session cookie must come from the dashboard's own
// pages: when the browser says where it comes from (Origin, Sec-Fetch-Site; every current
// browser sends at least one on a POST), that must be this site, whatever CSRF token it
// carries. A browser that says neither still needs the token.
//
// `next` (where the login page sends a user afterwards) comes from the query string, so anyone
// can write a link with it: only a path on this site is followed, never another host (an open
// redirect would lend the dashboard's address to a phishing link).
import type http from 'node:http';

/**
 * Whether an unsafe request comes from this site. `origin` is the dashboard's public origin
 * (https://ops.example.com) when known; otherwise Origin must name the Host the request was
 * sent to (the gateway passes the client's Host on).
 */
export function fromSameOrigin(request: http.IncomingMessage, origin?: string): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const given = request.headers.origin;
  if (given === undefined) return true;
  if (origin !== undefined) return given === origin;
  if (!URL.canParse(given)) return false; // 'null' included: a sandboxed or privacy-stripped page
  return new URL(given).host === request.headers.host;
}

/** `target` if it is a path on this site (query and fragment kept), else undefined. */
export function localPath(target: string | null | undefined): string | undefined {
  const base = 'http://dashboard.invalid';
  // A path, not `//host` (another host to a browser), no backslash (browsers read `/\host`
  // as `//host`), no control character (a newline must not reach a Location header).
  if (
    !target?.startsWith('/') ||
    target.startsWith('//') ||
    target.includes('\\') ||
    [...target].some((char) => char < ' ' || char === '\u007f')
  )
    return undefined;
  if (!URL.canParse(target, base)) return undefined;
  const url = new URL(target, base);
  // Dot segments resolved: `/.//host` is `//host` now.
  if (url.origin !== base || url.pathname.startsWith('//')) return undefined;
  return `${url.pathname}${url.search}${url.hash}`;
}

/** `next` if it is a path on this site other than the login page itself, else '/'. */
export function safeNext(next: string | null | undefined): string {
  const path = localPath(next);
  return path === undefined || path.split(/[?#]/)[0] === '/login' ? '/' : path;
}
