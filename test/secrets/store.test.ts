import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSecretsFile } from '../../src/secrets/import.ts';
import {
  loadOrCreateIdentity,
  openWith,
  sealTo,
  SecretError,
  SecretStore,
} from '../../src/secrets/store.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'flotilla-secrets-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the secret store', () => {
  it('keeps values encrypted at rest, in 0600 files', async () => {
    const store = await SecretStore.open(dir);
    await store.set('PG_PASSWORD', 'marker-at-rest-91');
    const files = ['store.json', 'hub.identity'].map((name) => path.join(dir, 'secrets', name));
    for (const file of files) expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(files[0]!, 'utf8')).not.toContain('marker-at-rest-91');
    expect(await (await SecretStore.open(dir)).values(['PG_PASSWORD'])).toEqual(
      new Map([['PG_PASSWORD', 'marker-at-rest-91']]),
    );
  });

  it('versions every set and rolls back to the previous version', async () => {
    const store = await SecretStore.open(dir);
    expect(await store.set('TOKEN', 'one')).toBe(1);
    expect(await store.set('TOKEN', 'two')).toBe(2);
    expect(await store.list()).toEqual([
      expect.objectContaining({ name: 'TOKEN', current: 2, versions: 2 }),
    ]);
    expect(await store.rollback('TOKEN')).toBe(1);
    expect((await store.values(['TOKEN'])).get('TOKEN')).toBe('one');
    await expect(store.rollback('TOKEN')).rejects.toBeInstanceOf(SecretError);
    expect(await store.set('TOKEN', 'three')).toBe(3);
    await store.remove('TOKEN');
    expect(await SecretStore.namesIn(dir)).toEqual(new Set());
  });

  it('rejects bad names', async () => {
    const store = await SecretStore.open(dir);
    await expect(store.set('bad-name', 'x')).rejects.toThrow('bad secret name');
  });

  it('seals to one node so that only its key opens it', async () => {
    const a = await loadOrCreateIdentity(path.join(dir, 'a'));
    const b = await loadOrCreateIdentity(path.join(dir, 'b'));
    const sealed = await sealTo(a.recipient, 'for a only');
    expect(await openWith(a.identity, sealed)).toBe('for a only');
    await expect(openWith(b.identity, sealed)).rejects.toThrow();
  });
});

describe('importing secrets', () => {
  it('reads a .env file', () => {
    expect(
      parseSecretsFile('# comment\nexport A=1\nB="two words"\nC=\'x#y\'\n', '.env', 'dotenv'),
    ).toEqual(
      new Map([
        ['A', '1'],
        ['B', 'two words'],
        ['C', 'x#y'],
      ]),
    );
  });

  it('reads `doppler secrets download --no-file --format json` output', () => {
    const doppler = JSON.stringify({
      DOPPLER_CONFIG: 'prd',
      DATABASE_URL: 'postgres://u:p@h/db',
      STRIPE_KEY: 'sk_live_x',
    });
    const secrets = parseSecretsFile(doppler, 'doppler.json', 'doppler-json');
    expect(secrets.get('DATABASE_URL')).toBe('postgres://u:p@h/db');
    expect(secrets.get('STRIPE_KEY')).toBe('sk_live_x');
    expect(() => parseSecretsFile('{"A": 1}', 'd.json', 'doppler-json')).toThrow(
      'NAME: "value" strings',
    );
    expect(() => parseSecretsFile('nope', 'd.json', 'doppler-json')).toThrow('is not JSON');
  });
});
