// Dashboard passwords, hashed with scrypt (node:crypto): a per-password random salt, the cost
// kept beside each hash (so a later, higher default still verifies old ones), and a check in
// constant time. scrypt is memory-hard on purpose: at the default cost one hash takes 32 MiB
// and tens of milliseconds, so a stolen users file is slow to attack. Hashes run one at a time
// in this process: a burst of logins queues instead of taking 32 MiB each at once (the hub's
// memory budget), and the login rate limits keep the queue short.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { z } from 'zod';

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/**
 * One of OWASP's scrypt settings (N=2^15, r=8, p=3): 32 MiB per hash (128·N·r; p costs time,
 * not memory), which the hub's memory budget allows, and ~0.1-0.2 s of one core.
 */
export const DEFAULT_SCRYPT_COST: ScryptCost = { N: 2 ** 15, r: 8, p: 3 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** A password longer than this is no password (and would only cost hashing time). */
export const MAX_PASSWORD_LENGTH = 1024;

const base64 = z.string().regex(/^[A-Za-z0-9+/]+=*$/);

export const passwordHashSchema = z.object({
  salt: base64,
  hash: base64,
  // Bounded: a hand-edited file must not make a login allocate gigabytes.
  N: z
    .number()
    .int()
    .min(2)
    .max(2 ** 20)
    .refine((n) => (n & (n - 1)) === 0, 'N must be a power of two'),
  r: z.number().int().min(1).max(32),
  p: z.number().int().min(1).max(16),
});
export type PasswordHash = z.infer<typeof passwordHashSchema>;

let queue: Promise<unknown> = Promise.resolve();

/** One scrypt at a time (see above). */
function derive(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const options: ScryptOptions = {
    N: cost.N,
    r: cost.r,
    p: cost.p,
    // scrypt needs 128·N·r bytes; Node refuses above maxmem (32 MiB by default).
    maxmem: 256 * cost.N * cost.r,
  };
  const run = () =>
    new Promise<Buffer>((resolve, reject) =>
      // NFC: the same password typed in a terminal and a browser is the same bytes.
      scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (error, key) =>
        error ? reject(error) : resolve(key),
      ),
    );
  const result = queue.then(run, run);
  queue = result.catch(() => undefined);
  return result;
}

export async function hashPassword(
  password: string,
  cost: ScryptCost = DEFAULT_SCRYPT_COST,
): Promise<PasswordHash> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, cost);
  return { salt: salt.toString('base64'), hash: key.toString('base64'), ...cost };
}

/** Whether `password` is the one `stored` was made from; the comparison takes constant time. */
export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const wanted = Buffer.from(stored.hash, 'base64');
  const key = await derive(password, Buffer.from(stored.salt, 'base64'), stored);
  return key.length === wanted.length && timingSafeEqual(key, wanted);
}
