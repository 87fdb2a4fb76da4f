// A short, stable fingerprint of a JSON value: agent, hub and plan compare configs by it.
import { createHash } from 'node:crypto';

/** A short, stable fingerprint of a JSON value: equal configs, equal hashes. */
export function configHash(config: unknown): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}
