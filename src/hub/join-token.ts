// Join tokens: `flotilla node token` prints one on the hub, `flotilla agent --join <token>`
// consumes it on a new node. A token is a compact, copy-pasteable string
//
//   flt1_<base64url(JSON payload)>.<base64url(HMAC-SHA256(secret, "flt1_" + payload segment))>
//
// The payload is NOT secret (anyone holding the token can read the hub URL and key; that is
// what lets the joining agent find and pin the hub before it has any other credential), but it
// is authenticated: only the hub holding the 32-byte join secret can mint one, and it expires.
// One-time use is enforced by the hub with `UsedNonces`, kept on disk so a restart does not
// re-open used tokens.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { readOrCreateSecretFile } from '../secrets/secret-file.ts';
import { readPrivateJson, writePrivateJson } from '../state/private-json.ts';
import { NAME } from '../spec/schema.ts';

export const JOIN_TOKEN_PREFIX = 'flt1_';
export const DEFAULT_JOIN_TTL_MS = 15 * 60_000;
/** Longest lifetime `issueJoinToken` accepts: a join token is meant to be used right away. */
export const MAX_JOIN_TTL_MS = 24 * 60 * 60_000;
export const JOIN_SECRET_FILE = 'join.secret';
export const USED_NONCES_FILE = 'join-nonces.json';

const SECRET_BYTES = 32;
const NONCE_BYTES = 16;
const MAC_BYTES = 32;
/** Longer than any token we mint; anything bigger is rejected before decoding. */
const MAX_TOKEN_LENGTH = 4096;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;

export const joinTokenPayloadSchema = z
  .object({
    v: z.literal(1),
    /** The hub's API URL, on its mesh or public address. */
    hubUrl: z.url({ protocol: /^https?$/, message: 'hubUrl must be an http(s) URL' }).max(2048),
    /** The hub's TLS/identity fingerprint or age recipient: opaque here, pinned by the agent. */
    hubKey: z.string().min(1).max(1024),
    /** The node this token is for, if it was issued for one. */
    node: z
      .string()
      .regex(NAME, {
        message: 'a node name is lowercase letters, digits and hyphens, starting with a letter',
      })
      .optional(),
    /**
     * The operator asked for `node` to get new keys (`flotilla node token --node X --replace`):
     * without it, a node that has joined keeps the keys it joined with.
     */
    replace: z.literal(true).optional(),
    /** Expiry, milliseconds since the epoch. */
    exp: z.number().int().positive(),
    /** Random, base64url: identifies this token for one-time use. */
    nonce: z.string().regex(NONCE),
  })
  .strict()
  .refine((payload) => !payload.replace || payload.node !== undefined, {
    message: "a token that replaces a node's keys names that node",
    path: ['replace'],
  });

export type JoinTokenPayload = z.infer<typeof joinTokenPayloadSchema>;

export type JoinTokenErrorCode = 'malformed' | 'bad-signature' | 'expired';

export class JoinTokenError extends Error {
  override readonly name = 'JoinTokenError';
  constructor(
    readonly code: JoinTokenErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface JoinTokenOptions {
  hubUrl: string;
  hubKey: string;
  node?: string;
  /** Let this token give `node` (required then) new keys. */
  replace?: boolean;
  /** Lifetime in milliseconds; default 15 minutes, at most 24 hours. */
  ttlMs?: number;
}

/** Mint a join token signed with the hub's join secret. Throws on invalid options. */
export function issueJoinToken(
  secret: Uint8Array,
  options: JoinTokenOptions,
  now: number = Date.now(),
): string {
  checkSecret(secret);
  const ttlMs = options.ttlMs ?? DEFAULT_JOIN_TTL_MS;
  if (!Number.isInteger(ttlMs) || ttlMs <= 0 || ttlMs > MAX_JOIN_TTL_MS) {
    throw new RangeError(
      `join token lifetime must be a whole number of milliseconds between 1 and ${MAX_JOIN_TTL_MS}`,
    );
  }
  const candidate: JoinTokenPayload = {
    v: 1,
    hubUrl: options.hubUrl,
    hubKey: options.hubKey,
    ...(options.node === undefined ? {} : { node: options.node }),
    ...(options.replace ? { replace: true } : {}),
    exp: now + ttlMs,
    nonce: randomBytes(NONCE_BYTES).toString('base64url'),
  };
  const checked = joinTokenPayloadSchema.safeParse(candidate);
  if (!checked.success) {
    throw new TypeError(`cannot issue a join token: ${describeIssues(checked.error)}`);
  }
  const body = Buffer.from(JSON.stringify(checked.data), 'utf8').toString('base64url');
  return `${JOIN_TOKEN_PREFIX}${body}.${mac(secret, body).toString('base64url')}`;
}

/**
 * Read a token's payload WITHOUT checking its signature or expiry: for the joining agent,
 * which has no secret but needs hubUrl/hubKey to reach (and pin) the hub. Never use the result
 * to grant anything. Throws `JoinTokenError('malformed')`.
 */
export function parseJoinToken(token: string): JoinTokenPayload {
  return decodePayload(split(token).body);
}

/**
 * Check a token's signature (constant-time), shape and expiry. Returns the payload or throws
 * `JoinTokenError` with code 'malformed', 'bad-signature' or 'expired'. Does not consume the
 * token: the caller records its nonce in `UsedNonces`.
 */
export function verifyJoinToken(
  secret: Uint8Array,
  token: string,
  now: number = Date.now(),
): JoinTokenPayload {
  checkSecret(secret);
  const { body, signature } = split(token);
  // The MAC is checked over the raw payload segment, before any JSON is parsed.
  if (!timingSafeEqual(signature, mac(secret, body))) {
    throw new JoinTokenError(
      'bad-signature',
      'join token signature does not match: issued by another hub?',
    );
  }
  const payload = decodePayload(body);
  if (payload.exp <= now) {
    throw new JoinTokenError(
      'expired',
      `join token expired ${ago(now - payload.exp)}: run \`flotilla node token\` again`,
    );
  }
  return payload;
}

const usedNoncesSchema = z.strictObject({
  /** nonce → when its token expires (ms since the epoch). */
  used: z.record(z.string().regex(NONCE), z.number().int()),
});

/**
 * Nonces of join tokens that were already used, each remembered until its token expires
 * (after which `verifyJoinToken` rejects the token anyway). Kept in `<hub dir>/join-nonces.json`
 * (0600): in memory only, a hub restart re-opened every used token still within its lifetime.
 * Not safe for concurrent writers: the join service handles one join at a time.
 */
export class UsedNonces {
  private constructor(
    private readonly file: string,
    private readonly until: Map<string, number>,
  ) {}

  static async open(hubDir: string, now: number = Date.now()): Promise<UsedNonces> {
    const file = path.join(hubDir, USED_NONCES_FILE);
    const saved = await readPrivateJson(file, usedNoncesSchema);
    const nonces = new UsedNonces(file, new Map(Object.entries(saved?.used ?? {})));
    nonces.prune(now);
    return nonces;
  }

  has(nonce: string, now: number = Date.now()): boolean {
    this.prune(now);
    return this.until.has(nonce);
  }

  /** Remembers a used nonce until `expiresAt`, on disk before it returns. */
  async add(nonce: string, expiresAt: number, now: number = Date.now()): Promise<void> {
    this.prune(now);
    if (expiresAt > now) this.until.set(nonce, Math.max(expiresAt, this.until.get(nonce) ?? 0));
    await writePrivateJson(this.file, { used: Object.fromEntries(this.until) });
  }

  get size(): number {
    return this.until.size;
  }

  private prune(now: number): void {
    for (const [nonce, until] of this.until) if (until <= now) this.until.delete(nonce);
  }
}

/**
 * The hub's join secret: 32 random bytes in `<dir>/join.secret` (hex, mode 0600, directory
 * 0700), created on first use and reused afterwards. Rotating it (deleting the file) voids
 * every outstanding token.
 */
export async function loadOrCreateJoinSecret(dir: string): Promise<Buffer> {
  const hex = await readOrCreateSecretFile(path.join(dir, JOIN_SECRET_FILE), {
    what: `join secret (${SECRET_BYTES} bytes as hex)`,
    create: () => randomBytes(SECRET_BYTES).toString('hex'),
    isValid: (text) => new RegExp(`^[0-9a-f]{${SECRET_BYTES * 2}}$`).test(text),
  });
  return Buffer.from(hex, 'hex');
}

function checkSecret(secret: Uint8Array): void {
  if (secret.length < SECRET_BYTES) {
    throw new RangeError(`the join secret must be at least ${SECRET_BYTES} bytes`);
  }
}

function mac(secret: Uint8Array, body: string): Buffer {
  return createHmac('sha256', secret)
    .update(JOIN_TOKEN_PREFIX + body, 'utf8')
    .digest();
}

function malformed(why: string): JoinTokenError {
  return new JoinTokenError('malformed', `not a Flotilla join token (${why})`);
}

/** Strict base64url: only the alphabet, no padding, and canonical (re-encodes to itself). */
function decodeBase64Url(text: string, what: string): Buffer {
  if (!BASE64URL.test(text)) throw malformed(`${what} is not base64url`);
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) throw malformed(`${what} is not base64url`);
  return bytes;
}

function split(token: string): { body: string; signature: Buffer } {
  if (typeof token !== 'string') throw malformed('not a string');
  const trimmed = token.trim(); // tolerate a pasted newline or surrounding spaces
  if (trimmed === '') throw malformed('empty');
  if (trimmed.length > MAX_TOKEN_LENGTH) throw malformed('too long');
  if (!trimmed.startsWith(JOIN_TOKEN_PREFIX)) {
    throw malformed(`it should start with ${JOIN_TOKEN_PREFIX}`);
  }
  const parts = trimmed.slice(JOIN_TOKEN_PREFIX.length).split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw malformed('expected <payload>.<signature>; was it cut off when copied?');
  }
  const body = parts[0];
  decodeBase64Url(body, 'payload');
  const signature = decodeBase64Url(parts[1], 'signature');
  if (signature.length !== MAC_BYTES) {
    throw malformed('signature has the wrong length; was it cut off when copied?');
  }
  return { body, signature };
}

function decodePayload(body: string): JoinTokenPayload {
  let json: unknown;
  try {
    json = JSON.parse(decodeBase64Url(body, 'payload').toString('utf8'));
  } catch (error) {
    if (error instanceof JoinTokenError) throw error;
    throw malformed('payload is not JSON');
  }
  const parsed = joinTokenPayloadSchema.safeParse(json);
  if (!parsed.success) throw malformed(`payload: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ` : '') + issue.message)
    .join('; ');
}

function ago(ms: number): string {
  const units: [string, number][] = [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
  ];
  for (const [unit, size] of units) {
    if (ms >= size) {
      const count = Math.floor(ms / size);
      return `${count} ${unit}${count === 1 ? '' : 's'} ago`;
    }
  }
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return seconds === 0 ? 'just now' : `${seconds} second${seconds === 1 ? '' : 's'} ago`;
}
