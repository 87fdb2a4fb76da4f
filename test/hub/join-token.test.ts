import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_JOIN_TTL_MS,
  issueJoinToken,
  JOIN_SECRET_FILE,
  JoinTokenError,
  loadOrCreateJoinSecret,
  parseJoinToken,
  USED_NONCES_FILE,
  UsedNonces,
  verifyJoinToken,
} from '../../src/hub/join-token.ts';

const NOW = Date.UTC(2025, 0, 1, 12, 0, 0);
const HUB = { hubUrl: 'https://10.77.0.1:7443', hubKey: 'age1qyqszqgpqyqszqgpqyqszqgpqyqszqgp' };
const secret = randomBytes(32);

/** A token whose payload is `json` verbatim, correctly signed with `key`. */
function signed(key: Uint8Array, json: string): string {
  const body = Buffer.from(json, 'utf8').toString('base64url');
  const mac = createHmac('sha256', key)
    .update('flt1_' + body)
    .digest('base64url');
  return `flt1_${body}.${mac}`;
}

function joinError(run: () => unknown): JoinTokenError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(JoinTokenError);
    return error as JoinTokenError;
  }
  throw new Error('expected a JoinTokenError');
}

describe('join tokens', () => {
  it('round-trips hubUrl, hubKey, node and a 15-minute expiry', () => {
    const token = issueJoinToken(secret, { ...HUB, node: 'worker-2' }, NOW);
    expect(token).toMatch(/^flt1_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    const payload = verifyJoinToken(secret, token, NOW + 1000);
    expect(payload).toMatchObject({ ...HUB, node: 'worker-2', exp: NOW + DEFAULT_JOIN_TTL_MS });
    expect(payload.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(parseJoinToken(token)).toEqual(payload);
    // a pasted trailing newline is fine
    expect(verifyJoinToken(secret, ` ${token}\n`, NOW)).toEqual(payload);
  });

  it('carries a replacement only for a named node', () => {
    const token = issueJoinToken(secret, { ...HUB, node: 'db', replace: true }, NOW);
    expect(verifyJoinToken(secret, token, NOW)).toMatchObject({ node: 'db', replace: true });
    expect(verifyJoinToken(secret, issueJoinToken(secret, HUB, NOW), NOW)).not.toHaveProperty(
      'replace',
    );
    expect(() => issueJoinToken(secret, { ...HUB, replace: true }, NOW)).toThrow(
      /replace: a token that replaces a node's keys names that node/,
    );
    // A token signed with replace but no node (never minted, but checked all the same).
    const payload = { v: 1, ...HUB, replace: true, exp: NOW + 60_000, nonce: 'A'.repeat(22) };
    expect(
      joinError(() => verifyJoinToken(secret, signed(secret, JSON.stringify(payload)), NOW)).code,
    ).toBe('malformed');
  });

  it('works without a node name and with a custom lifetime; nonces differ', () => {
    const a = issueJoinToken(secret, { ...HUB, ttlMs: 60_000 }, NOW);
    const b = issueJoinToken(secret, { ...HUB, ttlMs: 60_000 }, NOW);
    const pa = verifyJoinToken(secret, a, NOW);
    expect(pa.node).toBeUndefined();
    expect(pa.exp).toBe(NOW + 60_000);
    expect(verifyJoinToken(secret, b, NOW).nonce).not.toBe(pa.nonce);
  });

  it('refuses to issue invalid tokens', () => {
    expect(() => issueJoinToken(secret, { ...HUB, ttlMs: 0 }, NOW)).toThrow(/lifetime/);
    expect(() => issueJoinToken(secret, { ...HUB, ttlMs: 1e12 }, NOW)).toThrow(/lifetime/);
    expect(() => issueJoinToken(secret, { ...HUB, hubUrl: 'ftp://x' }, NOW)).toThrow(/hubUrl/);
    expect(() => issueJoinToken(secret, { ...HUB, hubKey: '' }, NOW)).toThrow(/hubKey/);
    expect(() => issueJoinToken(secret, { ...HUB, node: 'Bad Name' }, NOW)).toThrow(/node/);
    expect(() => issueJoinToken(randomBytes(8), HUB, NOW)).toThrow(/32 bytes/);
  });

  it('rejects a tampered payload or signature', () => {
    const token = issueJoinToken(secret, { ...HUB, node: 'worker-2' }, NOW);
    const [body, sig] = token.slice('flt1_'.length).split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as object;
    const evil = Buffer.from(
      JSON.stringify({ ...payload, hubUrl: 'https://evil.example' }),
    ).toString('base64url');
    const tampered = [
      `flt1_${evil}.${sig}`,
      `flt1_${body}.${Buffer.from(randomBytes(32)).toString('base64url')}`,
      `flt1_${body}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BA' : 'AA'}`,
    ];
    for (const bad of tampered) {
      const error = joinError(() => verifyJoinToken(secret, bad, NOW));
      expect(error.code).toBe('bad-signature');
      expect(error.message).toMatch(/signature does not match: issued by another hub\?/);
    }
  });

  it("rejects another hub's token", () => {
    const token = issueJoinToken(randomBytes(32), HUB, NOW);
    expect(joinError(() => verifyJoinToken(secret, token, NOW)).code).toBe('bad-signature');
    // but the joining agent can still read it
    expect(parseJoinToken(token).hubUrl).toBe(HUB.hubUrl);
  });

  it('expires, with a message saying how long ago and what to do', () => {
    const token = issueJoinToken(secret, HUB, NOW);
    expect(verifyJoinToken(secret, token, NOW + DEFAULT_JOIN_TTL_MS - 1)).toBeTruthy();
    const atExpiry = joinError(() => verifyJoinToken(secret, token, NOW + DEFAULT_JOIN_TTL_MS));
    expect(atExpiry.code).toBe('expired');
    const later = joinError(() =>
      verifyJoinToken(secret, token, NOW + DEFAULT_JOIN_TTL_MS + 3 * 60_000 + 20_000),
    );
    expect(later.code).toBe('expired');
    expect(later.message).toBe('join token expired 3 minutes ago: run `flotilla node token` again');
    expect(
      joinError(() => verifyJoinToken(secret, token, NOW + DEFAULT_JOIN_TTL_MS + 1000)).message,
    ).toMatch(/expired 1 second ago/);
  });

  it('rejects malformed input as "not a Flotilla join token"', () => {
    const good = issueJoinToken(secret, HUB, NOW);
    const sig = good.split('.')[1]!;
    const payload = { v: 1, ...HUB, exp: NOW + 60_000, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' };
    const inputs = [
      '',
      '   ',
      'hello world',
      'flt1_',
      'flt1_.',
      good.replace('flt1_', 'flt2_'),
      good.replace('flt1_', ''),
      good.split('.')[0]!, // signature cut off
      good.slice(0, -5), // signature truncated
      `${good}.extra`,
      `flt1_not*base64.${sig}`,
      `flt1_${Buffer.from('{"v":1}').toString('base64url')}=.${sig}`, // padding
      'x'.repeat(10_000),
      // correctly signed, but not JSON / not the schema
      signed(secret, 'not json'),
      signed(secret, '[]'),
      signed(secret, 'null'),
      signed(secret, JSON.stringify({ ...payload, v: 2 })),
      signed(secret, JSON.stringify({ ...payload, hubUrl: 'javascript:alert(1)' })),
      signed(secret, JSON.stringify({ ...payload, exp: 'tomorrow' })),
      signed(secret, JSON.stringify({ ...payload, nonce: 'short' })),
      signed(secret, JSON.stringify({ ...payload, node: '../etc' })),
      signed(secret, JSON.stringify({ ...payload, extra: true })),
      signed(secret, JSON.stringify({ v: 1, hubUrl: HUB.hubUrl })),
    ];
    for (const input of inputs) {
      const error = joinError(() => verifyJoinToken(secret, input, NOW));
      expect(error.code, input).toBe('malformed');
      expect(error.message).toMatch(/^not a Flotilla join token/);
      expect(joinError(() => parseJoinToken(input)).code).toBe('malformed');
    }
    // a well-formed payload passes the schema
    expect(verifyJoinToken(secret, signed(secret, JSON.stringify(payload)), NOW)).toEqual(payload);
    // non-strings from untyped callers
    expect(joinError(() => parseJoinToken(undefined as unknown as string)).code).toBe('malformed');
  });
});

describe('used nonces', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-nonces-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('survive a restart (a new instance reading the same dir), in a 0600 file', async () => {
    const nonces = await UsedNonces.open(dir, NOW);
    expect(nonces.has('nonce-aaaaaaaaaaaaaaaa', NOW)).toBe(false);
    await nonces.add('nonce-aaaaaaaaaaaaaaaa', NOW + 60_000, NOW);
    expect(nonces.has('nonce-aaaaaaaaaaaaaaaa', NOW)).toBe(true);
    const file = path.join(dir, USED_NONCES_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const restarted = await UsedNonces.open(dir, NOW + 1000);
    expect(restarted.has('nonce-aaaaaaaaaaaaaaaa', NOW + 1000)).toBe(true);
    expect(restarted.has('nonce-bbbbbbbbbbbbbbbb', NOW + 1000)).toBe(false);
  });

  it('are forgotten once their tokens expire, in memory and on disk', async () => {
    const nonces = await UsedNonces.open(dir, NOW);
    await nonces.add('nonce-aaaaaaaaaaaaaaaa', NOW + 60_000, NOW);
    await nonces.add('nonce-bbbbbbbbbbbbbbbb', NOW + 120_000, NOW);
    expect(nonces.has('nonce-aaaaaaaaaaaaaaaa', NOW + 60_000)).toBe(false);
    expect(nonces.size).toBe(1);
    // An already expired token is not recorded; the next write drops the expired ones.
    await nonces.add('nonce-cccccccccccccccc', NOW + 60_000, NOW + 90_000);
    const saved = JSON.parse(await readFile(path.join(dir, USED_NONCES_FILE), 'utf8')) as {
      used: Record<string, number>;
    };
    expect(saved.used).toEqual({ 'nonce-bbbbbbbbbbbbbbbb': NOW + 120_000 });
    expect((await UsedNonces.open(dir, NOW + 120_000)).size).toBe(0);
  });

  it('refuse a corrupt file rather than forget what was used', async () => {
    await writeFile(path.join(dir, USED_NONCES_FILE), '{"used": {"x": "soon"}}\n');
    await expect(UsedNonces.open(dir)).rejects.toThrow(
      /join-nonces.json is not in the expected format/,
    );
  });
});

describe('the join secret', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-join-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is 32 random bytes in a 0600 file, reused on the next load', async () => {
    const stateDir = path.join(dir, 'hub');
    const first = await loadOrCreateJoinSecret(stateDir);
    expect(first).toHaveLength(32);
    const file = path.join(stateDir, JOIN_SECRET_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    expect((await readFile(file, 'utf8')).trim()).toBe(first.toString('hex'));
    const second = await loadOrCreateJoinSecret(stateDir);
    expect(second.equals(first)).toBe(true);
    // a token from the first load verifies with the second
    expect(verifyJoinToken(second, issueJoinToken(first, HUB, NOW), NOW).hubUrl).toBe(HUB.hubUrl);
  });

  it('concurrent first loads agree on one secret', async () => {
    const secrets = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateJoinSecret(dir)));
    for (const s of secrets) expect(s.equals(secrets[0]!)).toBe(true);
  });

  it('tightens a loose mode and refuses a corrupt file', async () => {
    const first = await loadOrCreateJoinSecret(dir);
    const file = path.join(dir, JOIN_SECRET_FILE);
    await chmod(file, 0o644);
    expect((await loadOrCreateJoinSecret(dir)).equals(first)).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await writeFile(file, 'garbage\n');
    await expect(loadOrCreateJoinSecret(dir)).rejects.toThrow(/not a valid join secret/);
    expect(await readFile(file, 'utf8')).toBe('garbage\n');
  });
});
