// The hub's API tokens (`flotilla tokens create|list|revoke`): each has a name, a scope and
// maybe an expiry, and is shown once when created. The file (<state>/hub/api-tokens.json,
// 0600) keeps only a SHA-256 of each token's secret: the secret is 256 random bits, so a
// fast hash is enough (nothing to brute-force, unlike a password, which would need scrypt),
// and a stolen file lets nobody call the API. A token reads `flt_<id>_<secret>`: the prefix
// makes a leaked one easy to grep for (and for secret scanners to flag); the id finds the
// entry, then the secret's hash is compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { readPrivateJson, writePrivateJson } from '../../state/private-json.ts';
import { SCOPES, type Principal, type Scope } from './api-route.ts';

export const TOKEN_PREFIX = 'flt_';
const ID_BYTES = 6;
const SECRET_BYTES = 32;
const TOKEN_PATTERN = /^flt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
/** Writing the file on every call would cost a write per request: last use is kept this fine. */
const LAST_USED_RESOLUTION_MS = 60_000;

export const tokenNameSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_.-]{0,62}$/,
    'a token name is 1-63 of a-z 0-9 _ . - (starting with a letter or digit)',
  );

const storedTokenSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{12}$/),
  name: tokenNameSchema,
  scope: z.enum(SCOPES),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  created_at: z.number().int(),
  expires_at: z.number().int().nullable(),
  last_used_at: z.number().int().nullable(),
});
type StoredToken = z.infer<typeof storedTokenSchema>;

const tokenFileSchema = z.object({ version: z.literal(1), tokens: z.array(storedTokenSchema) });

/** What `tokens list` shows: everything but the hash. */
export const tokenInfoSchema = storedTokenSchema.omit({ sha256: true, id: true });
export type TokenInfo = z.infer<typeof tokenInfoSchema>;

export class TokenNameTaken extends Error {
  override readonly name = 'TokenNameTaken';
  readonly hint = 'pick another name, or revoke the old token first: flotilla tokens revoke NAME';
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export class ApiTokenStore {
  private constructor(
    private readonly file: string,
    private tokens: StoredToken[],
    private readonly now: () => number,
  ) {}

  static async open(
    stateDir: string,
    options: { now?: () => number } = {},
  ): Promise<ApiTokenStore> {
    const file = path.join(stateDir, 'hub', 'api-tokens.json');
    const stored = await readPrivateJson(file, tokenFileSchema);
    return new ApiTokenStore(file, stored?.tokens ?? [], options.now ?? Date.now);
  }

  /** A new token; the only time its value is known. */
  async create(name: string, scope: Scope, expiresAt?: number): Promise<{ token: string }> {
    if (this.tokens.some((token) => token.name === name))
      throw new TokenNameTaken(`a token named ${name} exists already`);
    const id = randomBytes(ID_BYTES).toString('hex');
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    this.tokens = [
      ...this.tokens,
      {
        id,
        name,
        scope,
        sha256: digest(secret).toString('hex'),
        created_at: this.now(),
        expires_at: expiresAt ?? null,
        last_used_at: null,
      },
    ];
    await this.save();
    return { token: `${TOKEN_PREFIX}${id}_${secret}` };
  }

  list(): TokenInfo[] {
    return this.tokens.map(({ name, scope, created_at, expires_at, last_used_at }) => ({
      name,
      scope,
      created_at,
      expires_at,
      last_used_at,
    }));
  }

  /** Whether a token of that name existed (it no longer does). */
  async revoke(name: string): Promise<boolean> {
    const kept = this.tokens.filter((token) => token.name !== name);
    if (kept.length === this.tokens.length) return false;
    this.tokens = kept;
    await this.save();
    return true;
  }

  /** The token's principal; undefined for a malformed, unknown, revoked or expired one. */
  async verify(bearer: string): Promise<Principal | undefined> {
    const match = TOKEN_PATTERN.exec(bearer.replace(/^Bearer /, ''));
    if (!match) return undefined;
    const [, id, secret] = match;
    const entry = this.tokens.find((token) => token.id === id);
    // Hashed either way, so an unknown id takes as long as a wrong secret.
    const given = digest(secret!);
    const wanted = entry ? Buffer.from(entry.sha256, 'hex') : digest('');
    if (!timingSafeEqual(given, wanted) || !entry) return undefined;
    const now = this.now();
    if (entry.expires_at !== null && entry.expires_at <= now) return undefined;
    if (entry.last_used_at === null || now - entry.last_used_at >= LAST_USED_RESOLUTION_MS) {
      entry.last_used_at = now;
      await this.save();
    }
    return { kind: 'token', name: entry.name, scope: entry.scope };
  }

  private async save(): Promise<void> {
    await writePrivateJson(this.file, { version: 1, tokens: this.tokens });
  }
}
