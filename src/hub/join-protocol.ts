// What a joining agent and the hub say to each other over the public network, before the
// agent is on the mesh. The request is sealed (age) to the hub's join key, which the agent
// takes from the token, so only that hub can read the token inside; the answer, which
// carries the node's bus password, is sealed to the agent's own key and echoes the token's
// nonce, so an impostor that cannot read the request cannot forge an answer. The request
// also proves that the agent holds the private half of the age recipient it names (keys are
// public: a replayed token with a member's public keys must not get that member's answer).
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  timingSafeEqual,
} from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { isWireGuardKey } from '../mesh/keys.ts';
import { ipAddressSchema } from '../spec/formats.ts';
import { openWith, sealTo } from '../secrets/store.ts';
import { NAME } from '../spec/schema.ts';

export const JOIN_PATH = '/v1/join';

export const joinRequestSchema = z.strictObject({
  token: z.string().max(4096),
  node: z.string().regex(NAME).optional(),
  wireguard_key: z.string().refine(isWireGuardKey, 'a WireGuard public key'),
  recipient: z.string().startsWith('age1'),
  /** The agent's public address; the stack's address for the node when absent. */
  endpoint: ipAddressSchema.optional(),
  /** The agent's state dir: the hub plans the node's `${data}` under it. */
  state_dir: z
    .string()
    .max(4096)
    .refine(
      (dir) => path.posix.isAbsolute(dir) && path.posix.normalize(dir) === dir,
      'an absolute, normalised path',
    ),
  /** `joinProof` of the fields above: base64url HMAC-SHA256. */
  proof: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
});
export type JoinRequest = z.infer<typeof joinRequestSchema>;

export const joinAnswerSchema = z.strictObject({
  nonce: z.string(),
  node: z.string().regex(NAME),
  stack: z.string(),
  /**
   * The node's WireGuard interface: enough to reach the hub (the full peer set comes on the
   * bus). Absent on a tailnet, where the node reaches the hub through Tailscale.
   */
  mesh: z
    .strictObject({
      interface: z.string(),
      address: z.string(),
      listen_port: z.number().int(),
      hub: z.strictObject({
        public_key: z.string(),
        endpoint: z.string(),
        allowed_ips: z.array(z.string()),
      }),
    })
    .optional(),
  bus: z.strictObject({ url: z.string(), user: z.string(), pass: z.string() }),
  /** The node runs a Caddy gateway (its admin endpoint is the agent's own choice). */
  gateway: z.boolean(),
  /** The key the hub signs what it writes for nodes with; opaque here, kept by the agent. */
  hub_signing_key: z.string().min(1).max(4096),
});
export type JoinAnswer = z.infer<typeof joinAnswerSchema>;

/** The body both directions carry: one age-sealed JSON document. */
export const sealedBodySchema = z.strictObject({ sealed: z.string().max(64 * 1024) });

export async function sealJson(recipient: string, value: unknown): Promise<{ sealed: string }> {
  return { sealed: await sealTo(recipient, JSON.stringify(value)) };
}

export async function openJson<T>(
  identity: string,
  body: { sealed: string },
  schema: z.ZodType<T>,
): Promise<T | undefined> {
  let text: string;
  try {
    text = await openWith(identity, body.sealed);
  } catch {
    return undefined;
  }
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** An age X25519 key pair: `AGE-SECRET-KEY-1…` and its `age1…` recipient. */
export interface AgeKeyPair {
  identity: string;
  recipient: string;
}

/** What a join proof covers: every field of the request but the token, plus its nonce. */
export type ProvenJoinFields = Omit<JoinRequest, 'token' | 'proof'>;

/**
 * Proof that the sender holds `own.identity`: HMAC-SHA256 over the token's nonce and the
 * request's fields, keyed from the X25519 secret shared between `own` and `peerRecipient`.
 * The agent computes it with its identity and the hub's join recipient (from the token); the
 * hub with its join identity and the recipient the node registered with, so only the holder
 * of that recipient's private key can match it. Undefined when a key is not X25519.
 */
export function joinProof(
  own: AgeKeyPair,
  peerRecipient: string,
  nonce: string,
  fields: ProvenJoinFields,
): string | undefined {
  const shared = x25519Shared(own, peerRecipient);
  if (!shared) return undefined;
  const key = Buffer.from(
    hkdfSync('sha256', shared, Buffer.alloc(0), 'flotilla join proof v1', 32),
  );
  const covered = [
    nonce,
    fields.node ?? null,
    fields.wireguard_key,
    fields.recipient,
    fields.endpoint ?? null,
    fields.state_dir,
  ];
  return createHmac('sha256', key).update(JSON.stringify(covered)).digest('base64url');
}

/** Constant-time check of a request's proof against the one `joinProof` computes. */
export function joinProofMatches(
  own: AgeKeyPair,
  registeredRecipient: string,
  nonce: string,
  request: JoinRequest,
): boolean {
  const wanted = joinProof(own, registeredRecipient, nonce, request);
  if (wanted === undefined) return false;
  const given = Buffer.from(request.proof, 'base64url');
  const expected = Buffer.from(wanted, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function x25519Shared(own: AgeKeyPair, peerRecipient: string): Buffer | undefined {
  const d = bech32Bytes(own.identity, 'age-secret-key-');
  const x = bech32Bytes(own.recipient, 'age');
  const peer = bech32Bytes(peerRecipient, 'age');
  if (d?.length !== 32 || x?.length !== 32 || peer?.length !== 32) return undefined;
  try {
    return diffieHellman({
      privateKey: createPrivateKey({
        key: { kty: 'OKP', crv: 'X25519', d: d.toString('base64url'), x: x.toString('base64url') },
        format: 'jwk',
      }),
      publicKey: createPublicKey({
        key: { kty: 'OKP', crv: 'X25519', x: peer.toString('base64url') },
        format: 'jwk',
      }),
    });
  } catch {
    return undefined; // e.g. a low-order point: OpenSSL refuses an all-zero secret
  }
}

const BECH32_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const BECH32_GENERATORS = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

/**
 * The bytes of a bech32 string (BIP 173) with the human-readable part `prefix`, checksum
 * verified; undefined otherwise. age keys are bech32, and `age-encryption` exports no decoder.
 */
export function bech32Bytes(text: string, prefix: string): Buffer | undefined {
  const lower = text.toLowerCase();
  if (text !== lower && text !== text.toUpperCase()) return undefined;
  const separator = lower.lastIndexOf('1');
  if (lower.slice(0, separator) !== prefix) return undefined;
  const words = [...lower.slice(separator + 1)].map((char) => BECH32_CHARSET.indexOf(char));
  if (words.length < 6 || words.includes(-1)) return undefined;
  const codes = [...prefix].map((char) => char.charCodeAt(0));
  const expanded = [...codes.map((code) => code >> 5), 0, ...codes.map((code) => code & 31)];
  if (bech32Polymod([...expanded, ...words]) !== 1) return undefined;
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const word of words.slice(0, -6)) {
    buffer = ((buffer << 5) | word) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
    }
  }
  if (bits >= 5 || (buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return Buffer.from(bytes);
}

function bech32Polymod(values: number[]): number {
  let checksum = 1;
  for (const value of values) {
    const top = checksum >>> 25;
    checksum = ((checksum & 0x1ffffff) << 5) ^ value;
    for (const [bit, generator] of BECH32_GENERATORS.entries())
      if ((top >>> bit) & 1) checksum ^= generator;
  }
  return checksum;
}
