// Heartbeat push tokens: the secret in a job's ping URL that says which monitor it pings. A
// monitor's own `token` (a Kuma or Healthchecks client keeps the URL it has) is used as is;
// otherwise the hub derives one from its key, so the URL stays the same across restarts
// and nothing has to be stored. Finding a monitor by token never compares the token itself
// character by character (an early exit would time how much of a guess was right): tokens
// are indexed by their SHA-256, so a lookup's timing can only tell how far the digest of a
// guess matches a stored digest, which says nothing of the token (no preimage); a
// constant-time compare after the lookup would compare a digest with itself.
import { createHash, createHmac } from 'node:crypto';

/** HMAC-SHA256(key, stack \0 monitor), base64url: 43 characters, 256 bits. */
export function derivePushToken(key: Buffer, stack: string, monitor: string): string {
  return createHmac('sha256', key).update(`${stack}\0${monitor}`).digest('base64url');
}

export interface PushTokenEntry {
  monitor: string;
  token: string;
}

/** Two monitors were given one token: a ping could not say which of them it is for. */
export class PushTokenConflict extends Error {
  override readonly name = 'PushTokenConflict';
  readonly hint: string;
  constructor(readonly monitors: [string, string]) {
    super(`heartbeat monitors ${monitors[0]} and ${monitors[1]} have the same push token`);
    this.hint = `give each its own heartbeat.token, or remove it from one to let the hub make one`;
  }
}

const digest = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export class PushTokenTable {
  /** Monitor names by the hex SHA-256 of their token. */
  private readonly byDigest = new Map<string, string>();

  constructor(entries: readonly PushTokenEntry[]) {
    for (const { monitor, token } of entries) {
      const key = digest(token);
      const taken = this.byDigest.get(key);
      if (taken !== undefined && taken !== monitor) throw new PushTokenConflict([taken, monitor]);
      this.byDigest.set(key, monitor);
    }
  }

  /** The monitor `token` pings, or undefined. */
  find(token: string): string | undefined {
    return this.byDigest.get(digest(token));
  }
}
