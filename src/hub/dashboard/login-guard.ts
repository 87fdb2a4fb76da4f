// What stands between a password guesser and the dashboard's login: per user name, 5 failed
// logins within 15 minutes lock that name for 15 minutes, and while it is locked every login
// is refused the same way, the right password included (so the answer tells a guesser
// nothing); per client address (client-address.ts), a rate limit on login attempts, so one
// address cannot lock out every user it can name, or try many names slowly. Names that no user
// has are counted like real ones, so a lockout does not tell which names exist. Both tables
// are bounded: the keys come from outside.
import { RateLimiter, type RateLimit } from '../rate-limit.ts';

export interface LoginLimits {
  /** Failed logins of one name within `failureWindowMs` that lock it. */
  failures: number;
  failureWindowMs: number;
  lockMs: number;
  /** Login attempts one client address may make. */
  perAddress: RateLimit;
}

const MINUTE = 60_000;

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  failures: 5,
  failureWindowMs: 15 * MINUTE,
  lockMs: 15 * MINUTE,
  // A person mistyping, a few at once behind one NAT; not a dictionary.
  perAddress: { count: 20, windowMs: 15 * MINUTE },
};

const MAX_NAMES = 10_000;

interface Failures {
  /** When each recent failure happened, oldest first. */
  at: number[];
  lockedUntil: number;
}

export type Admission =
  { allowed: true } | { allowed: false; reason: 'address' | 'locked'; retryAfterMs: number };

export class LoginGuard {
  private readonly names = new Map<string, Failures>();
  private readonly addresses: RateLimiter;

  constructor(private readonly limits: LoginLimits = DEFAULT_LOGIN_LIMITS) {
    this.addresses = new RateLimiter(limits.perAddress);
  }

  /** How long a lockout lasts. */
  get lockMs(): number {
    return this.limits.lockMs;
  }

  /** Whether a login of `name` from `address` may be tried now (takes one from the address). */
  admit(name: string, address: string, now: number): Admission {
    const lockedUntil = this.names.get(name)?.lockedUntil ?? 0;
    if (lockedUntil > now)
      return { allowed: false, reason: 'locked', retryAfterMs: lockedUntil - now };
    if (!this.addresses.take(address, now)) {
      const { count, windowMs } = this.limits.perAddress;
      return { allowed: false, reason: 'address', retryAfterMs: Math.ceil(windowMs / count) };
    }
    return { allowed: true };
  }

  /** Counts a failed login of `name`; true when this failure locked it. */
  failed(name: string, now: number): boolean {
    let failures = this.names.get(name);
    if (!failures) {
      if (this.names.size >= MAX_NAMES) this.forgetOld(now);
      failures = { at: [], lockedUntil: 0 };
    }
    this.names.delete(name); // re-inserted last: the Map's order is least recently failed first
    this.names.set(name, failures);
    failures.at = [...failures.at.filter((at) => now - at < this.limits.failureWindowMs), now];
    if (failures.at.length < this.limits.failures) return false;
    failures.at = [];
    failures.lockedUntil = now + this.limits.lockMs;
    return true;
  }

  /** A successful login clears the name's failures. */
  succeeded(name: string): void {
    this.names.delete(name);
  }

  private forgetOld(now: number): void {
    for (const [name, failures] of this.names) {
      if (this.names.size < MAX_NAMES * 0.9) return;
      const recent = failures.at.some((at) => now - at < this.limits.failureWindowMs);
      if (failures.lockedUntil <= now && !recent) this.names.delete(name);
    }
    // Still full of live entries: the least recently failed go, locks included (a flood of
    // names is what the address limit is for).
    for (const name of this.names.keys()) {
      if (this.names.size < MAX_NAMES * 0.9) return;
      this.names.delete(name);
    }
  }
}
