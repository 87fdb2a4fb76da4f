// API tokens as the hub keeps them: shown once, stored as hashes only (0600), found by id and
// compared in constant time; a wrong, malformed, revoked or expired token is nobody.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiTokenStore, TokenNameTaken } from '../../../src/hub/api/api-tokens.ts';

describe('ApiTokenStore', () => {
  let stateDir: string;
  let now: number;
  const open = () => ApiTokenStore.open(stateDir, { now: () => now });

  beforeEach(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), 'flotilla-tokens-'));
    now = 1_000_000;
  });
  afterEach(() => rm(stateDir, { recursive: true, force: true }));

  it('gives a greppable token once and keeps only its hash, in a private file', async () => {
    const { token } = await (await open()).create('ci', 'operate');
    expect(token).toMatch(/^flt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const file = path.join(stateDir, 'hub', 'api-tokens.json');
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(token.split('_').slice(2).join('_'));
    expect(text).toContain('"sha256"');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // Another hub process reads the same file.
    expect(await (await open()).verify(`Bearer ${token}`)).toEqual({
      kind: 'token',
      name: 'ci',
      scope: 'operate',
    });
  });

  it('refuses a wrong secret, an unknown id, a malformed token and a name taken', async () => {
    const store = await open();
    const { token } = await store.create('ci', 'read');
    const [, id, secret] = /^flt_([0-9a-f]{12})_(.+)$/.exec(token)!;
    const flipped = `${secret!.slice(0, -1)}${secret!.endsWith('A') ? 'B' : 'A'}`;
    expect(await store.verify(`flt_${id}_${flipped}`)).toBeUndefined();
    expect(await store.verify(`flt_000000000000_${secret}`)).toBeUndefined();
    expect(await store.verify(secret!)).toBeUndefined();
    expect(await store.verify('')).toBeUndefined();
    await expect(store.create('ci', 'admin')).rejects.toBeInstanceOf(TokenNameTaken);
  });

  it('is nobody once revoked or expired, and lists what it knows without the token', async () => {
    const store = await open();
    const { token: kept } = await store.create('kept', 'read', now + 60_000);
    const { token: revoked } = await store.create('gone', 'admin');
    expect(await store.revoke('gone')).toBe(true);
    expect(await store.revoke('gone')).toBe(false);
    expect(await store.verify(revoked)).toBeUndefined();
    expect(await store.verify(kept)).toBeDefined();
    now += 60_000;
    expect(await store.verify(kept)).toBeUndefined();
    const listed = store.list();
    expect(listed).toEqual([
      {
        name: 'kept',
        scope: 'read',
        created_at: 1_000_000,
        expires_at: 1_060_000,
        last_used_at: 1_000_000,
      },
    ]);
    expect(JSON.stringify(listed)).not.toContain(kept.slice(4, 16));
  });
});
