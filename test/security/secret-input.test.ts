// Issue 10, item 7: what reaches the secret store. `secrets set __proto__` and a malformed
// .env import crashed with "internal error" (exit 70); a Doppler import with one bad name
// stored the names before it, then failed; two writers shared one temporary file. The
// attacks here run the real CLI against a store that already holds a secret: each bad input
// gets a clear error (exit 1) and leaves the store byte for byte as it was. A secret name
// follows one rule in the store, at every way in and in the stack file.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStackText } from '../../src/spec/load.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';

let dir: string;
let file: string;
let env: NodeJS.ProcessEnv;
let store: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-secret-input-'));
  file = path.join(dir, 'flotilla.yml');
  await writeFile(file, 'name: input\nservices:\n  api: { run: { command: [api] } }\n');
  env = { FLOTILLA_STATE_DIR: path.join(dir, 'state') };
  store = path.join(dir, 'state', 'secrets', 'store.json');
  const set = await flotilla(['secrets', 'set', 'EXISTING', '-f', file], env, 'kept');
  expect(set.code, set.stderr).toBe(0);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `secrets …` and checks it failed plainly (exit 1) and changed nothing. */
async function refused(args: string[], input?: string): Promise<string> {
  const before = await readFile(store, 'utf8');
  const result = await flotilla(['secrets', ...args, '-f', file], env, input);
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
  expect(await readFile(store, 'utf8')).toBe(before);
  return result.stderr;
}

async function names(): Promise<string[]> {
  const list = await flotilla(['secrets', 'list', '--json', '-f', file], env);
  return (JSON.parse(list.stdout) as { name: string }[]).map((secret) => secret.name);
}

describe('secret names', () => {
  it.each(['__proto__', 'bad-name', 'X'.repeat(129)])(
    'secrets set %s is a clear error that changes nothing',
    async (name) => {
      const stderr = await refused(['set', name], 'value');
      expect(stderr).toContain(`bad secret name "${name}": letters, digits and underscores`);
    },
  );

  it('rm and rollback check the name the same way', async () => {
    expect(await refused(['rm', '__proto__'])).toContain('bad secret name "__proto__"');
    expect(await refused(['rollback', 'a.b'])).toContain('bad secret name "a.b"');
  });

  it('takes names that are properties of every JavaScript object as plain names', async () => {
    for (const name of ['constructor', 'toString']) {
      const set = await flotilla(['secrets', 'set', name, '-f', file], env, `v-${name}`);
      expect(set.code, set.stderr).toBe(0);
    }
    expect(await names()).toEqual(['EXISTING', 'constructor', 'toString']);
    for (const name of ['constructor', 'toString'])
      expect((await flotilla(['secrets', 'rm', name, '-f', file], env)).code).toBe(0);
  });

  it('follows the same rule in the stack file', () => {
    for (const [text, at] of [
      ['env: { A: "${secret:__proto__}" }', ['services', 'a', 'env', 'A']],
      ['secret_files: [__proto__]', ['services', 'a', 'secret_files', 0]],
    ] as const) {
      const result = parseStackText(
        `name: s\nservices:\n  a:\n    run: { command: [a] }\n    ${text}\n`,
        'flotilla.yml',
      );
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.diagnostics).toEqual([
        expect.objectContaining({ path: at, hint: expect.stringContaining('letters, digits') }),
      ]);
    }
  });
});

describe('secrets import', () => {
  it('refuses a malformed .env file whole', async () => {
    const envFile = path.join(dir, 'bad.env');
    await writeFile(envFile, 'GOOD=1\nnot a line\n');
    expect(await refused(['import', envFile])).toContain(
      `${envFile}:2: expected KEY=value; nothing was imported`,
    );
  });

  it('refuses a Doppler file with one bad name without storing the others', async () => {
    const doppler = path.join(dir, 'doppler.json');
    // The good names come first: they were stored before the bad one failed.
    await writeFile(doppler, JSON.stringify({ A_GOOD: '1', B_GOOD: '2', 'bad-name': '3' }));
    expect(await refused(['import', doppler, '--format', 'doppler-json'])).toContain(
      'bad secret name "bad-name"',
    );
    await writeFile(doppler, '{"A_GOOD": "1", "__proto__": "2"}');
    expect(await refused(['import', doppler, '--format', 'doppler-json'])).toContain(
      'bad secret name "__proto__"',
    );
    expect(await names()).toEqual(['EXISTING']);
  });

  it('stores a good file in one write', async () => {
    const doppler = path.join(dir, 'good.json');
    await writeFile(doppler, JSON.stringify({ A_GOOD: '1', B_GOOD: '2' }));
    const result = await flotilla(
      ['secrets', 'import', doppler, '--format', 'doppler-json', '-f', file],
      env,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(await names()).toEqual(['A_GOOD', 'B_GOOD', 'EXISTING']);
  });
});

describe('writing the store', () => {
  it('uses a temporary of its own, never a name another writer shares', async () => {
    // Another writer's temporary, at the name every writer used to share.
    const shared = `${store}.tmp`;
    await mkdir(shared);
    await writeFile(path.join(shared, 'theirs'), 'another writer');
    const set = await flotilla(['secrets', 'set', 'AFTER_SHARED', '-f', file], env, 'v');
    expect(set.code, set.stderr).toBe(0);
    expect(await readFile(path.join(shared, 'theirs'), 'utf8')).toBe('another writer');
    await rm(shared, { recursive: true });

    // Writers at once: each finishes, and what they leave is a whole store and no temporary.
    const writers = await Promise.all(
      ['W1', 'W2', 'W3'].map((name) => flotilla(['secrets', 'set', name, '-f', file], env, name)),
    );
    for (const writer of writers) expect(writer.code, writer.stderr).toBe(0);
    expect(await names()).toEqual(expect.arrayContaining(['AFTER_SHARED', 'EXISTING']));
    expect((await readdir(path.dirname(store))).filter((entry) => entry.endsWith('.tmp'))).toEqual(
      [],
    );
    expect((await stat(store)).mode & 0o777).toBe(0o600);
  });
});
