// CSRF protection of the login form itself (before there is a session and its token): a
// signed double submit. The login page sets a random value in the __Host-flotilla_login
// cookie and puts its HMAC (a key this process made at start) in the form's hidden `csrf`
// field; a login is taken only when the field is the HMAC of the cookie the same browser
// sent. Another site can neither read the field nor set the cookie, so it cannot log a
// victim into an account of its own choosing. The cookie is never a session: a login always
// makes a new session id (no fixation).
import { createHmac, randomBytes } from 'node:crypto';
import { sameBytes } from '../webhooks/signatures.ts';

/** How long a login form stays usable. */
export const LOGIN_FORM_TTL_MS = 60 * 60 * 1000;

export class LoginCsrf {
  private readonly key = randomBytes(32);

  /** A new value for the login cookie. */
  cookieValue(): string {
    return randomBytes(32).toString('base64url');
  }

  /** The form's token for the browser holding `cookie`. */
  token(cookie: string): string {
    return createHmac('sha256', this.key).update(cookie).digest('base64url');
  }

  matches(cookie: string | undefined, given: string | null | undefined): boolean {
    return cookie !== undefined && given != null && sameBytes(given, this.token(cookie));
  }
}
