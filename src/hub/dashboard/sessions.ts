// Dashboard sessions, in the hub's memory: a hub restart logs everyone out (a login is cheap,
// and nothing session-shaped has to be kept on disk). A session's id is 256 random bits, sent
// once in the cookie and kept here only as its SHA-256, so a memory dump or a log of this map
// holds nothing that logs anyone in. Each session has its own CSRF token for forms and API
// calls. A session ends at logout, after 12 hours without a request, 7 days after login, and
// as soon as its user is removed (or removed and added again) or their scope changes: a
// lowered scope must not live on in an open tab; a raised one applies at the next login.
import { createHash, randomBytes } from 'node:crypto';
import type { Principal } from '../api/api-route.ts';
import { sameBytes } from '../webhooks/signatures.ts';
import type { DashboardUser } from './dashboard-users.ts';

export const IDLE_TIMEOUT_MS = 12 * 60 * 60 * 1000;
export const ABSOLUTE_TIMEOUT_MS = 7 * 24 * 60 * 60 * 1000;
/** Browsers and devices one user is logged in on at once. */
export const MAX_SESSIONS_PER_USER = 20;

/** A session as the listener uses it: who, and the token its forms and API calls must carry. */
export interface Session {
  principal: Principal;
  csrf: string;
  /** When it ends at the latest (ms since the epoch): the cookie's lifetime. */
  expiresAt: number;
}

interface Entry extends Session {
  user: DashboardUser;
  createdAt: number;
  lastSeenAt: number;
}

const digest = (id: string) => createHash('sha256').update(id).digest('base64url');
const randomToken = () => randomBytes(32).toString('base64url');

export class Sessions {
  /** By the SHA-256 of the session id. */
  private readonly entries = new Map<string, Entry>();

  /** A new session for `user`; its id (for the cookie) is known only to the caller. */
  create(user: DashboardUser, now: number): { id: string; session: Session } {
    this.prune(now);
    this.limitSessionsOf(user.name);
    const id = randomToken();
    const entry: Entry = {
      principal: { kind: 'session', name: user.name, scope: user.scope },
      csrf: randomToken(),
      expiresAt: now + ABSOLUTE_TIMEOUT_MS,
      user,
      createdAt: now,
      lastSeenAt: now,
    };
    this.entries.set(digest(id), entry);
    return { id, session: entry };
  }

  /**
   * The live session of `id` (a cookie's value), its idle clock restarted; undefined (and the
   * session ended) when it timed out or its user is gone or changed. `user` looks the user up
   * as the users file holds them now.
   */
  async find(
    id: string,
    now: number,
    user: (name: string) => Promise<DashboardUser | undefined>,
  ): Promise<Session | undefined> {
    const key = digest(id);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const current = await user(entry.user.name);
    if (
      this.expired(entry, now) ||
      current?.created_at !== entry.user.created_at ||
      current.scope !== entry.user.scope
    ) {
      this.entries.delete(key);
      return undefined;
    }
    entry.lastSeenAt = now;
    return entry;
  }

  /** Ends the session of `id`, if there is one. */
  destroy(id: string): void {
    this.entries.delete(digest(id));
  }

  /** Whether `given` is the session's CSRF token (constant time). */
  static csrfMatches(session: Session, given: string | undefined): boolean {
    return given !== undefined && sameBytes(given, session.csrf);
  }

  private expired(entry: Entry, now: number): boolean {
    return now - entry.lastSeenAt > IDLE_TIMEOUT_MS || now >= entry.expiresAt;
  }

  /** Room for one more of `name`'s sessions: a script logging in in a loop ends its oldest. */
  private limitSessionsOf(name: string): void {
    const own = [...this.entries].filter(([, entry]) => entry.principal.name === name);
    for (const [key] of own.slice(0, Math.max(0, own.length - MAX_SESSIONS_PER_USER + 1)))
      this.entries.delete(key);
  }

  /** Forgets the sessions that timed out (at each login: they are the only way in). */
  private prune(now: number): void {
    for (const [key, entry] of this.entries) if (this.expired(entry, now)) this.entries.delete(key);
  }
}
