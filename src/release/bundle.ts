// A release's code as one content-addressed file: `flotilla deploy api --from DIR` bundles
// the app directory, the hub stores the bundle under its sha256, and every agent checks that
// sha256 before unpacking it (unpack.ts). The same content must give the same id, so that a
// deploy of unchanged code is recognised as one: paths are walked and sorted here, and GNU
// tar writes them with every varying field fixed (times, owners, modes up to the exec bit);
// node:zlib's gzip header carries no time or name.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { lstat, readdir, readlink, realpath, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { formatBytes } from '../backup/events.ts';
import { loadIgnoreRules, IGNORE_FILE, type IgnoreRules } from './ignore-rules.ts';
import { ReleaseError } from './release-error.ts';

export const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

export interface Bundle {
  /** The gzip'd tar; the caller owns it (and removes it once stored). */
  file: string;
  /** Lowercase hex: the release's content id. */
  sha256: string;
  bytes: number;
  /** Regular files and symlinks in the bundle (directories not counted). */
  files: number;
}

/** One entry of a bundle's tree, as both ends see it: a path relative to the root, `/`-separated. */
export interface TreeEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink';
  /** A symlink's target, as written in the link. */
  target?: string;
}

/**
 * The options GNU tar needs to write the same bytes for the same tree: no times, owners or
 * permission bits beyond the exec bit (`X`), no extended attributes, and a second name for
 * a file (a hardlink) stored as a copy, since unpackBundle refuses hardlinks.
 */
export const DETERMINISTIC_TAR = [
  '--format=gnu',
  '--mtime=@0',
  '--owner=0',
  '--group=0',
  '--numeric-owner',
  '--mode=u=rwX,go=rX',
  '--hard-dereference',
  '--no-acls',
  '--no-xattrs',
  '--no-selinux',
];

/** Deterministic gzip'd tar of `dir`: the same content gives the same sha256 (hex). */
export async function createBundle(
  dir: string,
  options: { maxBytes?: number; tmpDir?: string } = {},
): Promise<Bundle> {
  const root = await appRoot(dir);
  const rules = await loadIgnoreRules(root);
  const tree = await walk(root, rules);
  const files = tree.entries.filter((entry) => entry.type !== 'directory').length;
  if (files === 0) {
    throw new ReleaseError(
      `${dir} has nothing to deploy: no files once node_modules, .git, .env* and ${IGNORE_FILE} patterns are left out`,
      `check that --from points at the app's directory and that ${IGNORE_FILE} does not leave everything out`,
    );
  }
  const [escaping] = escapingLinks(tree.entries);
  if (escaping) {
    throw new ReleaseError(
      `${path.join(dir, escaping.path)} is a symlink to ${escaping.target}, outside ${dir}: a release cannot point at files of the machine it lands on`,
      `copy what it points at into ${dir}, make the link relative within it, or list it in ${IGNORE_FILE}`,
    );
  }
  const maxBytes = options.maxBytes ?? MAX_BUNDLE_BYTES;
  const file = path.join(options.tmpDir ?? os.tmpdir(), `flotilla-bundle-${randomUUID()}.tar.gz`);
  try {
    const { sha256, bytes } = await writeTarGz(root, tree.entries, file, maxBytes);
    return { file, sha256, bytes, files };
  } catch (error) {
    await rm(file, { force: true });
    if (error instanceof TooBig) {
      throw new ReleaseError(
        `the bundle of ${dir} is over ${formatBytes(maxBytes)} (compressed)`,
        `add patterns to ${path.join(dir, IGNORE_FILE)} (build output, data, media); the largest entries: ${largest(tree.sizes)}`,
      );
    }
    throw error;
  }
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * The symlinks that, resolved as the kernel would within this tree, leave its root: `..`
 * past the root, an absolute target, or a path through another link that does (`a -> .`
 * and `b -> a/..` are each harmless as text; `b` is the root's parent). A loop counts too.
 */
export function escapingLinks(entries: readonly TreeEntry[]): TreeEntry[] {
  const links = new Map(
    entries.flatMap((entry) => (entry.type === 'symlink' ? [[entry.path, entry.target!]] : [])),
  );
  const resolve = (from: string[], target: string, depth: number): string[] | undefined => {
    if (target.startsWith('/') || depth > 40) return undefined;
    const at = [...from];
    for (const part of target.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (at.pop() === undefined) return undefined;
        continue;
      }
      const next = links.get([...at, part].join('/'));
      if (next === undefined) {
        at.push(part);
        continue;
      }
      const resolved = resolve(at, next, depth + 1);
      if (resolved === undefined) return undefined;
      at.splice(0, at.length, ...resolved);
    }
    return at;
  };
  return entries.filter(
    (entry) =>
      entry.type === 'symlink' &&
      resolve(entry.path.split('/').slice(0, -1), entry.target!, 0) === undefined,
  );
}

/** The app directory, followed if it is itself a link; refused unless it is a directory. */
async function appRoot(dir: string): Promise<string> {
  try {
    if ((await stat(dir)).isDirectory()) return await realpath(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ReleaseError(
        `${dir} does not exist`,
        'pass the app directory with --from DIR (relative to where you run flotilla)',
      );
    }
    throw new ReleaseError(`cannot read ${dir}: ${(error as Error).message}`);
  }
  throw new ReleaseError(
    `${dir} is not a directory`,
    'pass the directory that holds the app (its package.json), not a file',
  );
}

interface Tree {
  /** Sorted by path, parents before children. */
  entries: TreeEntry[];
  /** Apparent bytes under each top-level entry, for the hint of a bundle too big. */
  sizes: Map<string, number>;
}

async function walk(root: string, rules: IgnoreRules): Promise<Tree> {
  const tree: Tree = { entries: [], sizes: new Map() };
  const visit = async (relative: string): Promise<void> => {
    const names = (await readdir(path.join(root, relative))).sort();
    for (const name of names) {
      const entryPath = relative === '' ? name : `${relative}/${name}`;
      const absolute = path.join(root, entryPath);
      const info = await lstat(absolute);
      if (rules.ignores(entryPath, info.isDirectory())) continue;
      const top = entryPath.split('/')[0]!;
      tree.sizes.set(top, (tree.sizes.get(top) ?? 0) + info.size);
      if (info.isDirectory()) {
        tree.entries.push({ path: entryPath, type: 'directory' });
        await visit(entryPath);
      } else if (info.isFile()) {
        tree.entries.push({ path: entryPath, type: 'file' });
      } else if (info.isSymbolicLink()) {
        tree.entries.push({ path: entryPath, type: 'symlink', target: await readlink(absolute) });
      } else {
        throw new ReleaseError(
          `${absolute} is a ${specialKind(info)}: a release holds only files, directories and symlinks`,
          `list it in ${path.join(root, IGNORE_FILE)}, or move it out of the app directory`,
        );
      }
    }
  };
  try {
    await visit('');
  } catch (error) {
    const { code, path: where } = error as NodeJS.ErrnoException;
    if (error instanceof ReleaseError || code === undefined) throw error;
    throw new ReleaseError(
      `cannot read ${where ?? root}: ${code}`,
      `make it readable by the user running flotilla, or list it in ${path.join(root, IGNORE_FILE)}`,
    );
  }
  return tree;
}

function specialKind(info: Stats): string {
  if (info.isSocket()) return 'socket';
  if (info.isFIFO()) return 'named pipe (fifo)';
  return 'device';
}

class TooBig extends Error {}

/** GNU tar with `args`, stdin and stdout piped; `done` rejects with a ReleaseError unless it exits 0. */
export function startTar(
  args: readonly string[],
  what: string,
  cwd?: string,
): { tar: ChildProcessByStdio<Writable, Readable, Readable>; done: Promise<void> } {
  const tar = spawn('tar', args, {
    cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, LC_ALL: 'C' },
  });
  let stderr = '';
  tar.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<void>((resolve, reject) => {
    tar.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new ReleaseError('GNU tar is not installed', 'install it: apt-get install tar')
          : error,
      ),
    );
    tar.once('close', (code, signal) => {
      if (code === 0) return resolve();
      const why = stderr.trim().split('\n').at(-1) || (signal ?? `exit ${code}`);
      reject(new ReleaseError(`tar could not ${what}: ${why}`));
    });
  });
  return { tar, done };
}

/** tar → gzip → `file`, hashing and counting on the way; stops as soon as it passes `maxBytes`. */
async function writeTarGz(
  root: string,
  entries: readonly TreeEntry[],
  file: string,
  maxBytes: number,
): Promise<{ sha256: string; bytes: number }> {
  const { tar, done } = startTar(
    [
      '--create',
      '--file=-',
      ...DETERMINISTIC_TAR,
      '--no-recursion',
      '--null',
      '--verbatim-files-from',
      '--files-from=-',
    ],
    `bundle ${root}`,
    root,
  );
  tar.stdin.end(entries.map((entry) => `${entry.path}\0`).join(''));

  const hash = createHash('sha256');
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      bytes += chunk.length;
      if (bytes > maxBytes) return callback(new TooBig());
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(
      tar.stdout,
      createGzip({ level: 9 }),
      count,
      createWriteStream(file, { flags: 'wx', mode: 0o600 }),
    );
  } catch (error) {
    tar.kill('SIGKILL');
    await done.catch(() => undefined);
    throw error;
  }
  await done;
  return { sha256: hash.digest('hex'), bytes };
}

/** "dist 40.1 MB, assets 12.0 MB, src 1.2 MB" */
function largest(sizes: Map<string, number>): string {
  return [...sizes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([name, size]) => `${name} ${formatBytes(size)}`)
    .join(', ');
}
