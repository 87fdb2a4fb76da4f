// `flotilla tokens` refuses bad usage with exit 2 and a hint before it asks the hub anything
// (an unknown scope, a missing one, a bad name or lifetime, an option of another verb, an
// unknown flag), and says the stack is not running (exit 1) when no hub answers. Making,
// listing and revoking tokens on a running hub: test/security/api-token-scopes.test.ts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flotilla } from '../../helpers/flotilla-cli.ts';

describe('flotilla tokens', () => {
  let dir: string;
  let file: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-tokens-cli-'));
    file = path.join(dir, 'flotilla.yml');
    await writeFile(file, 'name: tokens\nservices:\n  api: { run: { command: [api] } }\n');
    env = { FLOTILLA_STATE_DIR: path.join(dir, 'state') };
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.concurrent.each([
    [
      ['create', 'ci', '--scope', 'root'],
      'unknown scope "root"',
      'hint: --scope read, operate, admin',
    ],
    [['create', 'ci'], 'missing --scope', 'hint: --scope read'],
    [
      ['create', 'CI Token', '--scope', 'read'],
      'bad token name "CI Token"',
      'hint: a token name is',
    ],
    [
      ['create', 'ci', '--scope', 'read', '--expires', 'soon'],
      '--expires must be a duration',
      'usage:',
    ],
    [['list', '--scope', 'read'], '--scope goes with `tokens create`', 'usage:'],
    [['revoke'], 'missing NAME', 'usage:'],
    [['list', '--everything'], "Unknown option '--everything'", 'usage:'],
  ])('refuses tokens %j with exit 2', async (args, message, hint) => {
    const result = await flotilla(['tokens', ...args, '-f', file], env);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain(hint);
  });

  it('says the stack is not running when no hub answers', async () => {
    const result = await flotilla(['tokens', 'list', '-f', file], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('stack tokens is not running here');
  });
});
