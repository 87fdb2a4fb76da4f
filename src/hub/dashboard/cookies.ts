// The dashboard's cookies: read from the Cookie header, written with every protection a
// browser offers. The `__Host-` prefix makes a browser accept a cookie only when it is Secure,
// has Path=/ and no Domain, so neither a sibling subdomain nor a plain-HTTP page can plant or
// overwrite one. HttpOnly keeps it from scripts; SameSite=Strict keeps it off every request
// another site starts (the first line of CSRF defence; the tokens are the second).

export const SESSION_COOKIE = '__Host-flotilla_session';
/** Binds the login form's CSRF token to the browser that fetched the form (login-csrf.ts). */
export const LOGIN_COOKIE = '__Host-flotilla_login';

/** The cookies a request carries; the first of a name wins, as browsers send the most specific first. */
export function readCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const split = part.indexOf('=');
    if (split < 0) continue;
    const name = part.slice(0, split).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(split + 1).trim());
  }
  return cookies;
}

/** A Set-Cookie value; `maxAgeSeconds` 0 deletes the cookie. Values are base64url: nothing to escape. */
export function setCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; Path=/; Secure; HttpOnly; SameSite=Strict`;
}
