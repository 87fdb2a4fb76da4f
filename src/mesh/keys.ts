// WireGuard key pairs. Generated with node:crypto's X25519 rather than `wg genkey`: no child
// process (the private key never crosses a pipe), no dependency on wireguard-tools for nodes
// that only need keys, and the result is the same format — 32 raw bytes, standard base64.
// WireGuard clamps the scalar on use, so an unclamped X25519 key is valid and `wg pubkey`
// derives the same public key (the tests check this against the real `wg pubkey`).
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readOrCreateSecretFile } from '../secrets/secret-file.ts';

export interface KeyPair {
  /** base64 of 32 bytes, as `wg genkey` prints it. Secret: never log it. */
  privateKey: string;
  /** base64 of 32 bytes, as `wg pubkey` prints it. */
  publicKey: string;
}

const KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
// PKCS#8 DER header for an X25519 private key; the 32 raw key bytes follow it.
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export function isWireGuardKey(key: string): boolean {
  return KEY.test(key);
}

function base64UrlToBase64(value: string): string {
  return Buffer.from(value, 'base64url').toString('base64');
}

export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const d = privateKey.export({ format: 'jwk' }).d;
  const x = publicKey.export({ format: 'jwk' }).x;
  if (!d || !x) throw new Error('X25519 key export returned no key material');
  return { privateKey: base64UrlToBase64(d), publicKey: base64UrlToBase64(x) };
}

/** The public key of a base64 WireGuard private key (what `wg pubkey` does). */
export function publicKeyOf(privateKey: string): string {
  if (!isWireGuardKey(privateKey)) throw new Error('not a WireGuard private key');
  const raw = Buffer.from(privateKey, 'base64');
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_X25519_PREFIX, raw]),
    format: 'der',
    type: 'pkcs8',
  });
  const x = createPublicKey(key).export({ format: 'jwk' }).x;
  if (!x) throw new Error('X25519 public key export failed');
  return base64UrlToBase64(x);
}

/**
 * The key pair stored in `file` (mode 0600, directory 0700), created on first use.
 * Idempotent: an existing key is kept (and its mode tightened to 0600), never replaced.
 */
export async function ensureKeyPair(file: string): Promise<{ publicKey: string; file: string }> {
  const privateKey = await readOrCreateSecretFile(file, {
    what: 'WireGuard private key',
    create: () => generateKeyPair().privateKey,
    isValid: isWireGuardKey,
  });
  return { publicKey: publicKeyOf(privateKey), file };
}
