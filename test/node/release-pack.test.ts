// The packed release node add uploads: what it holds (the compiled build, the package script,
// the node binary, release.json), a content id that changes with the build and not otherwise,
// the cache, and a refusal to pack a build older than its sources.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packRelease } from '../../src/node/release-pack.ts';
import { ReleaseError } from '../../src/release/release-error.ts';

const run = promisify(execFile);

describe('packRelease', () => {
  let work: string;
  let root: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'flotilla-release-pack-'));
    root = path.join(work, 'install');
    // A small stand-in install: the layout of a real one, a tiny "compiled build".
    await mkdir(path.join(root, 'dist/cli'), { recursive: true });
    await writeFile(path.join(root, 'dist/cli/flotilla.mjs'), 'export const main = 1;\n');
    await cp(path.resolve('bin'), path.join(root, 'bin'), { recursive: true });
    await mkdir(path.join(root, 'scripts'));
    for (const file of ['install-system-deps.sh', 'docker-daemon.json'])
      await cp(path.resolve('scripts', file), path.join(root, 'scripts', file));
    await writeFile(path.join(root, 'package.json'), '{"name":"flotilla","version":"9.9.9"}\n');
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  const pack = (cache = 'cache', nodeBinary?: string) =>
    packRelease({
      root,
      cacheDir: path.join(work, cache),
      ...(nodeBinary === undefined ? {} : { nodeBinary }),
    });

  it('holds the compiled build, bin, the package script, the node binary and release.json', async () => {
    const release = await pack();
    expect(release.id).toMatch(/^9\.9\.9-[0-9a-f]{12}$/);
    expect(release.arch).toBe(process.arch);
    const { stdout } = await run('tar', ['-tzf', release.file], { maxBuffer: 1 << 20 });
    expect(stdout.split('\n').filter(Boolean).sort()).toEqual(
      [
        './',
        './bin/',
        './bin/flotilla.js',
        './dist/',
        './dist/cli/',
        './dist/cli/flotilla.mjs',
        './node',
        './package.json',
        './release.json',
        './scripts/',
        './scripts/docker-daemon.json',
        './scripts/install-system-deps.sh',
      ].sort(),
    );
    const unpacked = path.join(work, 'unpacked');
    await mkdir(unpacked);
    await run('tar', ['-xzf', release.file, '-C', unpacked]);
    // The node binary inside is the one packing ran with, and runs.
    const { stdout: version } = await run(path.join(unpacked, 'node'), ['--version']);
    expect(version.trim()).toBe(process.version);
    expect(JSON.parse(await readFile(path.join(unpacked, 'release.json'), 'utf8'))).toEqual({
      id: release.id,
      version: '9.9.9',
      node: process.version,
      arch: process.arch,
    });
  });

  it('gives the same id for the same build (from the cache) and another for a new build', async () => {
    const first = await pack();
    const again = await pack();
    expect(again).toEqual(first);
    // Packed afresh elsewhere: the id comes from the content, not the cache.
    expect((await pack('other-cache')).id).toBe(first.id);
    await writeFile(path.join(root, 'dist/cli/flotilla.mjs'), 'export const main = 2;\n');
    const rebuilt = await pack();
    expect(rebuilt.id).not.toBe(first.id);
    expect(rebuilt.file).not.toBe(first.file);
  });

  it('refuses a build older than its sources, and one that is missing', async () => {
    await mkdir(path.join(root, 'src'), { recursive: true });
    await writeFile(path.join(root, 'src/main.ts'), 'export {};\n');
    const past = new Date(Date.now() - 60_000);
    await utimes(path.join(root, 'dist/cli/flotilla.mjs'), past, past);
    const stale = await pack().catch((error: unknown) => error);
    expect(stale).toBeInstanceOf(ReleaseError);
    expect((stale as ReleaseError).message).toContain('is older than src/');
    expect((stale as ReleaseError).hint).toBe('build it first: npm run build');
    await rm(path.join(root, 'dist'), { recursive: true });
    const missing = await pack().catch((error: unknown) => error);
    expect((missing as ReleaseError).message).toContain('has no compiled build');
  });
});
