// How each forge proves a webhook delivery is its own, checked over the raw body bytes
// before anything parses them: GitHub and Gitea sign the body with HMAC-SHA256 and the
// hook's secret (hex, GitHub's with a "sha256=" prefix); GitLab sends the secret itself.
// Every comparison takes the same time whatever the input, so a caller learns nothing
// about the secret from how fast a guess is refused.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type Forge = 'github' | 'gitea' | 'gitlab';

/** The header carrying each forge's proof (lower case, as node:http gives headers). */
export const SIGNATURE_HEADER: Record<Forge, string> = {
  github: 'x-hub-signature-256',
  gitea: 'x-gitea-signature',
  gitlab: 'x-gitlab-token',
};

/**
 * Whether two byte strings are equal, in a time that depends on neither: both sides are
 * hashed first, so unequal lengths (which timingSafeEqual refuses) leak nothing either.
 */
export function sameBytes(a: string | Buffer, b: string | Buffer): boolean {
  const digest = (value: string | Buffer) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}

function hmacSha256(secret: string, body: Buffer): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

/** The HMAC in a hex header, compared as bytes; a header that is not 64 hex digits fails. */
function hexSignatureMatches(hex: string, secret: string, body: Buffer): boolean {
  const expected = hmacSha256(secret, body);
  const given = /^[0-9a-f]{64}$/i.test(hex) ? Buffer.from(hex, 'hex') : Buffer.alloc(0);
  return sameBytes(given, expected);
}

/**
 * Whether `proof` (the value of the forge's SIGNATURE_HEADER, undefined when absent) shows
 * the forge holding `secret` sent `body`.
 */
export function verifyProof(
  forge: Forge,
  proof: string | undefined,
  secret: string,
  body: Buffer,
): boolean {
  if (proof === undefined || secret === '') return false;
  switch (forge) {
    case 'github':
      return hexSignatureMatches(proof.startsWith('sha256=') ? proof.slice(7) : '', secret, body);
    case 'gitea':
      return hexSignatureMatches(proof, secret, body);
    case 'gitlab':
      return sameBytes(proof, secret);
  }
}
