// This Flotilla as one file a server can run without a registry or a clone: the compiled build
// (dist/, dependencies bundled), bin/flotilla.js, the system-package script and the very node
// binary running now, so the server needs no Node.js of its own. `flotilla node add` and
// `node upgrade` upload it; its id names the release dir on the server, so an upload of the
// same build is recognised and skipped.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { DETERMINISTIC_TAR, startTar } from '../release/bundle.ts';
import { ReleaseError } from '../release/release-error.ts';

/** What a release holds from the install it is packed from, relative to its root. */
const RELEASE_FILES = [
  'bin/flotilla.js',
  'package.json',
  'scripts/install-system-deps.sh',
  'scripts/docker-daemon.json',
];
const COMPILED_DIR = 'dist';
/** Packed releases kept beside the newest, for `node upgrade` back and forth. */
const KEEP_PACKED = 2;

export interface PackedRelease {
  /** `<version>-<12 hex>`: the release dir's name on every server. */
  id: string;
  file: string;
  bytes: number;
  /** `x64` or `arm64`, as process.arch says: the node binary inside runs only there. */
  arch: string;
}

export interface PackOptions {
  /** The Flotilla install to pack (the one running, by default). */
  root: string;
  /** Where packed releases are kept between runs. */
  cacheDir: string;
  nodeBinary?: string;
}

/** The release of `root`, packed once per build and then taken from `cacheDir`. */
export async function packRelease(options: PackOptions): Promise<PackedRelease> {
  const nodeBinary = options.nodeBinary ?? process.execPath;
  const files = await releaseFileList(options.root);
  const { version } = JSON.parse(await readFile(path.join(options.root, 'package.json'), 'utf8'));
  const id = `${String(version)}-${await contentHash(options.root, files, nodeBinary)}`;
  const file = path.join(options.cacheDir, `flotilla-${id}-linux-${process.arch}.tar.gz`);
  const packed = await stat(file).catch(() => undefined);
  if (packed) return { id, file, bytes: packed.size, arch: process.arch };

  await mkdir(options.cacheDir, { recursive: true, mode: 0o700 });
  const staging = path.join(options.cacheDir, `staging-${randomUUID()}`);
  const partial = `${file}.${randomUUID()}.partial`;
  try {
    // Links to the real files: tar --dereference stores their content under these names.
    for (const relative of [...files, 'node']) {
      const target = relative === 'node' ? nodeBinary : path.join(options.root, relative);
      await mkdir(path.dirname(path.join(staging, relative)), { recursive: true });
      await symlink(target, path.join(staging, relative));
    }
    await writeFile(
      path.join(staging, 'release.json'),
      `${JSON.stringify({ id, version, node: process.version, arch: process.arch })}\n`,
    );
    await writeTarGz(staging, partial);
    await rename(partial, file);
  } finally {
    await rm(staging, { recursive: true, force: true });
    await rm(partial, { force: true });
  }
  await pruneCache(options.cacheDir, file);
  return { id, file, bytes: (await stat(file)).size, arch: process.arch };
}

/** The files a release holds; refused when the compiled build is missing or older than src/. */
async function releaseFileList(root: string): Promise<string[]> {
  const entry = path.join(root, COMPILED_DIR, 'cli', 'flotilla.mjs');
  const built = await stat(entry).catch(() => undefined);
  if (!built)
    throw new ReleaseError(
      `${root} has no compiled build (${entry}): a server runs the compiled build only`,
      'build it first: npm run build',
    );
  if ((await newestMtime(path.join(root, 'src'))) > built.mtimeMs)
    throw new ReleaseError(
      `the compiled build in ${path.join(root, COMPILED_DIR)} is older than src/: a server would run old code`,
      'build it first: npm run build',
    );
  const compiled = await readdir(path.join(root, COMPILED_DIR), { recursive: true });
  const compiledFiles: string[] = [];
  for (const relative of compiled.sort()) {
    const full = path.join(root, COMPILED_DIR, relative);
    if ((await stat(full)).isFile()) compiledFiles.push(path.join(COMPILED_DIR, relative));
  }
  return [...RELEASE_FILES, ...compiledFiles];
}

async function newestMtime(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  let newest = 0;
  for (const relative of entries)
    newest = Math.max(newest, (await stat(path.join(dir, relative))).mtimeMs);
  return newest;
}

/** Content of every file, plus the node binary's version and size (hashing 100 MB each run is not worth it). */
async function contentHash(root: string, files: string[], nodeBinary: string): Promise<string> {
  const hash = createHash('sha256');
  for (const relative of files) {
    hash.update(`${relative}\0`);
    hash.update(await readFile(path.join(root, relative)));
  }
  hash.update(`node\0${process.version}\0${process.arch}\0${(await stat(nodeBinary)).size}`);
  return hash.digest('hex').slice(0, 12);
}

async function writeTarGz(dir: string, file: string): Promise<void> {
  const { tar, done } = startTar(
    ['--create', '--file=-', '--dereference', ...DETERMINISTIC_TAR, '.'],
    `pack a release of ${dir}`,
    dir,
  );
  tar.stdin.end();
  // Level 1: the node binary is most of it, and a faster pack beats a few MB less to upload.
  await Promise.all([
    pipeline(tar.stdout, createGzip({ level: 1 }), createWriteStream(file, { mode: 0o600 })),
    done,
  ]);
}

async function pruneCache(cacheDir: string, newest: string): Promise<void> {
  const packed = (await readdir(cacheDir)).filter((name) => name.endsWith('.tar.gz'));
  const byAge = await Promise.all(
    packed.map(async (name) => ({
      file: path.join(cacheDir, name),
      mtime: (await stat(path.join(cacheDir, name))).mtimeMs,
    })),
  );
  byAge.sort((a, b) => b.mtime - a.mtime);
  for (const { file } of byAge.slice(KEEP_PACKED))
    if (file !== newest) await rm(file, { force: true });
}
