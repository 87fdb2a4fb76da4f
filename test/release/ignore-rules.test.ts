// What a release bundle leaves out, checked on real bundles of real directories: the
// built-in exclusions at any depth and each `.flotillaignore` rule (comments, blank lines,
// `dir/`, `*.log`, `/anchored`, `**`, escapes), listed back with GNU tar. A `!negation` or a
// broken pattern is refused with the file:line:col to fix.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBundle } from '../../src/release/bundle.ts';
import { parseIgnoreRules } from '../../src/release/ignore-rules.ts';
import { ReleaseError } from '../../src/release/release-error.ts';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'flotilla-ignore-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Writes `files` (relative paths; a trailing `/` makes an empty directory) under a new app dir. */
async function app(name: string, files: string[], ignore?: string): Promise<string> {
  const dir = path.join(work, name);
  for (const file of files) {
    if (file.endsWith('/')) await mkdir(path.join(dir, file), { recursive: true });
    else {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), `${file}\n`);
    }
  }
  if (ignore !== undefined) await writeFile(path.join(dir, '.flotillaignore'), ignore);
  return dir;
}

/** The regular files in the bundle of `dir`, as GNU tar lists them. */
async function bundled(dir: string): Promise<string[]> {
  const bundle = await createBundle(dir, { tmpDir: work });
  try {
    const listing = execFileSync('tar', ['--list', '--gzip', `--file=${bundle.file}`], {
      encoding: 'utf8',
    });
    return listing
      .split('\n')
      .filter((line) => line !== '' && !line.endsWith('/'))
      .sort();
  } finally {
    await rm(bundle.file, { force: true });
  }
}

describe('release bundle exclusions', () => {
  it('leaves out node_modules, .git, .env and .env.* at any depth, and keeps look-alikes', async () => {
    const dir = await app('builtin', [
      'index.js',
      'node_modules/left-pad/index.js',
      'packages/web/node_modules/react/index.js',
      '.git/config',
      'vendor/lib/.git/HEAD',
      '.env',
      '.env.production',
      'packages/web/.env.local',
      '.envrc',
      'env.example',
      'src/node_modules.md',
    ]);
    expect(await bundled(dir)).toEqual([
      '.envrc',
      'env.example',
      'index.js',
      'src/node_modules.md',
    ]);
  });

  it('applies each .flotillaignore rule to the files it names, and only to those', async () => {
    const ignore = [
      '# build output and logs',
      '',
      'dist/', // a directory at any depth, with everything in it
      '*.log', // a name at any depth
      '/coverage', // anchored: the root's coverage only
      'docs/**/*.png', // ** as any number of directories, none included
      'tmp/**', // everything inside tmp
      '**/fixtures', // ** in front: fixtures at any depth
      'cache?.bin', // ? is one character
      'report[0-9].txt', // a character class
      '\\#hash.txt', // an escaped # is a name, not a comment
      'trailing.txt   ', // trailing blanks do not count
      'data/', // dir-only: a file named data stays
      '',
    ].join('\n');
    const dir = await app(
      'rules',
      [
        'index.js',
        'dist/app.js',
        'packages/web/dist/bundle.js',
        'server.log',
        'src/debug.log',
        'src/logger.js',
        'coverage/lcov.info',
        'src/coverage/keep.js',
        'docs/logo.png',
        'docs/img/deep/shot.png',
        'docs/readme.md',
        'tmp/a/b.txt',
        'tmpfile.txt',
        'test/fixtures/one.json',
        'fixtures/two.json',
        'cache1.bin',
        'cache12.bin',
        'report7.txt',
        'reportX.txt',
        '#hash.txt',
        'trailing.txt',
        'src/data',
        'data/big.csv',
      ],
      ignore,
    );
    expect(await bundled(dir)).toEqual(
      [
        '.flotillaignore',
        'cache12.bin',
        'docs/readme.md',
        'index.js',
        'reportX.txt',
        'src/coverage/keep.js',
        'src/data',
        'src/logger.js',
        'tmpfile.txt',
      ].sort(),
    );
  });

  it('refuses a !negation with the place to fix and a hint, instead of ignoring it', async () => {
    const dir = await app('negation', ['index.js', 'keep.log'], '*.log\n\n!keep.log\n');
    const error = await createBundle(dir, { tmpDir: work }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ReleaseError);
    expect((error as ReleaseError).message).toContain(`${dir}/.flotillaignore:3:1:`);
    expect((error as ReleaseError).message).toContain('negation');
    expect((error as ReleaseError).hint).toContain('keep.log');
  });

  it('reads \\! as a name that starts with "!"', () => {
    const rules = parseIgnoreRules('\\!important.txt\n', '.flotillaignore');
    expect(rules.ignores('!important.txt', false)).toBe(true);
    expect(rules.ignores('important.txt', false)).toBe(false);
  });

  it('refuses a character class that never closes, pointing at its column', () => {
    expect(() => parseIgnoreRules('ok.txt\nreport[0-9.txt\n', 'app/.flotillaignore')).toThrow(
      /app\/\.flotillaignore:2:7: .*never closes/,
    );
  });
});
