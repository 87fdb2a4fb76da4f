// The agent's end of a release bundle: it arrives over the bus and is unpacked as root into
// `releases/<service>/<sha256>/`, so it is treated as hostile until proven otherwise. Nothing
// is written before the bytes are the ones the hub named (size, then sha256), and before
// every member has been read here and found to be a plain file, directory or symlink whose
// path and target stay inside the release, with a bounded unpacked size (a gzip bomb is
// stopped as soon as it passes the bound). Only then does GNU tar extract the same bytes
// (held in memory, so what was checked is what is extracted) into a temporary sibling,
// which is renamed into place: a release directory is either complete or absent.
import { createHash } from 'node:crypto';
import {
  chmod,
  lchown,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readlink,
  rename,
  rm,
} from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { z } from 'zod';
import { formatBytes } from '../backup/events.ts';
import { escapingLinks, MAX_BUNDLE_BYTES, sha256File, startTar, type TreeEntry } from './bundle.ts';
import { SHA256_HEX } from './release-record.ts';
import { ReleaseError } from './release-error.ts';

export const MAX_UNPACKED_BYTES = 1024 * 1024 * 1024;

/** What the hub says the bundle is; it came over the wire, so it is checked like input. */
const expectedSchema = z.object({
  sha256: z.string().regex(SHA256_HEX, 'a sha256 is 64 lowercase hex digits'),
  bytes: z.number().int().min(1).max(MAX_BUNDLE_BYTES),
});

/** A member of the archive, once read and found acceptable. */
interface Member extends TreeEntry {
  /** A file's content. */
  sha256?: string;
  executable: boolean;
}

const BLOCK = 512;
/** GNU tar's own header magic: the only format createBundle writes, so the only one read. */
const GNU_MAGIC = 'ustar  \0';
/** Longer names than a path can be on Linux are no release's. */
const MAX_NAME_BYTES = 4096;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Verifies size and sha256 BEFORE anything is written, then extracts into a temp sibling and renames it to destDir. */
export async function unpackBundle(
  file: string,
  expected: { sha256: string; bytes: number },
  destDir: string,
  options: { owner?: { uid: number; gid: number }; maxUnpackedBytes?: number } = {},
): Promise<void> {
  const want = expectedSchema.safeParse(expected);
  if (!want.success) {
    throw new ReleaseError(
      `the release's expected bundle is malformed: ${want.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
      'the hub sends { sha256, bytes } of a stored bundle; redeploy to store it again',
    );
  }
  const data = await readVerified(file, want.data);
  // Files are hashed only to compare with a release already there.
  const maxUnpacked = options.maxUnpackedBytes ?? MAX_UNPACKED_BYTES;
  const repeated = await existing(destDir);
  const members = await readMembers(data, maxUnpacked, repeated);
  checkTree(members);
  if (repeated) return sameRelease(destDir, members);

  await mkdir(path.dirname(destDir), { recursive: true });
  const temporary = await mkdtemp(
    path.join(path.dirname(destDir), `.${path.basename(destDir)}.unpacking-`),
  );
  try {
    await extract(data, temporary);
    const surprise = await difference(temporary, members, { contents: false, extraAllowed: false });
    if (surprise)
      throw new ReleaseError(`tar extracted something the bundle check did not see: ${surprise}`);
    await chmod(temporary, 0o755);
    if (options.owner) await handOver(temporary, options.owner);
    await rename(temporary, destDir);
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    // Another unpack of the same release got there first: compare with it, files hashed.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST')
      return sameRelease(destDir, await readMembers(data, maxUnpacked, true));
    throw error;
  }
}

/** The whole bundle, once its size and sha256 are the expected ones. */
async function readVerified(
  file: string,
  expected: { sha256: string; bytes: number },
): Promise<Buffer> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw new ReleaseError(`cannot read the bundle ${file}: ${(error as Error).message}`);
  }
  try {
    const { size } = await handle.stat();
    if (size !== expected.bytes) {
      throw new ReleaseError(
        `the bundle ${file} is ${size} bytes, not the ${expected.bytes} the release names`,
        'it was cut short or replaced on the way: deploy again to send it again',
      );
    }
    const data = await handle.readFile();
    const sha256 = createHash('sha256').update(data).digest('hex');
    if (data.length !== expected.bytes || sha256 !== expected.sha256) {
      throw new ReleaseError(
        `the bundle ${file} has sha256 ${sha256}, not the ${expected.sha256} the release names`,
        'it was corrupted or replaced on the way: deploy again to send it again',
      );
    }
    return data;
  } finally {
    await handle.close();
  }
}

/**
 * Reads every member header (and hashes every file, when asked) from the decompressed
 * stream, refusing anything createBundle would not have written; stops at `maxUnpacked`
 * decompressed bytes.
 */
async function readMembers(
  data: Buffer,
  maxUnpacked: number,
  hashFiles: boolean,
): Promise<Member[]> {
  const members: Member[] = [];
  /** What the data blocks after a header are for, and how many bytes (then padding) are left. */
  let body: { left: number; padding: number; data(bytes: Buffer): void; end(): void } | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  let ended = false;
  let total = 0;
  let pending: Buffer = Buffer.alloc(0);

  const startBody = (size: number, data: (bytes: Buffer) => void, end: () => void) => {
    body = { left: size, padding: (BLOCK - (size % BLOCK)) % BLOCK, data, end };
  };
  const readLongName = (size: number, done: (name: string) => void) => {
    if (size > MAX_NAME_BYTES) throw damaged(`a name of ${size} bytes`);
    const chunks: Buffer[] = [];
    startBody(
      size,
      (bytes) => chunks.push(Buffer.from(bytes)),
      () => done(decodeName(Buffer.concat(chunks))),
    );
  };
  /** Consumes as much of `pending` as it can; false when more input is needed. */
  const step = (): boolean => {
    if (ended) {
      if (pending.some((byte) => byte !== 0)) throw damaged('data after the end of the archive');
      pending = Buffer.alloc(0);
      return false;
    }
    if (body) {
      const content = pending.subarray(0, Math.min(pending.length, body.left));
      const padding = Math.min(pending.length - content.length, body.padding);
      body.data(content);
      body.left -= content.length;
      body.padding -= padding;
      pending = pending.subarray(content.length + padding);
      if (body.left + body.padding > 0) return false;
      const { end } = body;
      body = undefined;
      end();
      return true;
    }
    if (pending.length < BLOCK) return false;
    const block = pending.subarray(0, BLOCK);
    pending = pending.subarray(BLOCK);
    if (block.every((byte) => byte === 0)) {
      ended = true;
      return true;
    }
    const header = parseHeader(block);
    if (header.type === 'L') {
      if (longName !== undefined) throw damaged('two long names for one member');
      readLongName(header.size, (name) => (longName = name));
    } else if (header.type === 'K') {
      if (longLink !== undefined) throw damaged('two long link targets for one member');
      readLongName(header.size, (name) => (longLink = name));
    } else {
      const member = toMember(header, longName ?? header.name, longLink ?? header.linkname);
      longName = longLink = undefined;
      members.push(member);
      if (member.type === 'file') {
        const hash = hashFiles ? createHash('sha256') : undefined;
        startBody(
          header.size,
          (bytes) => hash?.update(bytes),
          () => hash && (member.sha256 = hash.digest('hex')),
        );
      }
    }
    return true;
  };

  const gunzip = createGunzip();
  gunzip.end(data);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxUnpacked) {
        throw new ReleaseError(
          `the bundle unpacks to more than ${formatBytes(maxUnpacked)}: refused (a gzip bomb, or a release that is mostly data)`,
          'leave data and build output out of the bundle (list them in .flotillaignore)',
        );
      }
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (step());
    }
  } catch (error) {
    gunzip.destroy();
    if (error instanceof ReleaseError) throw error;
    throw damaged((error as Error).message);
  }
  if (!ended || body || longName !== undefined || longLink !== undefined)
    throw damaged('it ends in the middle of the archive');
  return members;
}

interface Header {
  name: string;
  linkname: string;
  type: string;
  size: number;
  mode: number;
}

function parseHeader(block: Buffer): Header {
  if (block.toString('latin1', 257, 265) !== GNU_MAGIC)
    throw damaged('a member header GNU tar --format=gnu did not write');
  let sum = 0;
  for (let index = 0; index < BLOCK; index++)
    sum += index >= 148 && index < 156 ? 0x20 : block[index]!;
  if (sum !== octal(block, 148, 8)) throw damaged('a member header whose checksum does not match');
  return {
    name: decodeName(block.subarray(0, 100)),
    linkname: decodeName(block.subarray(157, 257)),
    type: String.fromCharCode(block[156]!),
    size: octal(block, 124, 12),
    mode: octal(block, 100, 8),
  };
}

/** A numeric header field: octal digits, then NULs or spaces. GNU's base-256 is never ours. */
function octal(block: Buffer, start: number, length: number): number {
  const text = block.toString('latin1', start, start + length).replace(/^ +|[\0 ]+$/g, '');
  if (!/^[0-7]+$/.test(text)) throw damaged('a member header with a field that is not a number');
  return parseInt(text, 8);
}

/** Up to the first NUL, as tar reads it; names that are not UTF-8 are no app's. */
function decodeName(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  try {
    return utf8.decode(end === -1 ? bytes : bytes.subarray(0, end));
  } catch {
    throw damaged('a member name that is not UTF-8');
  }
}

const SPECIAL: Record<string, string> = {
  '1': 'a hardlink',
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a named pipe (fifo)',
};

function toMember(header: Header, name: string, target: string): Member {
  const type =
    header.type === '0' || header.type === '\0'
      ? 'file'
      : header.type === '5'
        ? 'directory'
        : header.type === '2'
          ? 'symlink'
          : undefined;
  if (type === undefined) {
    const what = SPECIAL[header.type] ?? `a member of tar type "${header.type}"`;
    throw refused(`${name} is ${what}: a release holds only files, directories and symlinks`);
  }
  if (type !== 'file' && header.size !== 0) throw damaged(`${name} has data but is a ${type}`);
  // Set-id bits, or writable by others: a release is code its service user runs, not a way in.
  // Not writable by its owner: nothing could be extracted into it, nor removed, but by root.
  const ownerNeeds = type === 'directory' ? 0o700 : 0o600;
  if (
    type !== 'symlink' &&
    ((header.mode & 0o7022) !== 0 || (header.mode & ownerNeeds) !== ownerNeeds)
  ) {
    throw refused(
      `${name} has mode ${header.mode.toString(8)}: set-id, sticky, writable by others, or not by its owner`,
    );
  }
  const memberPath = type === 'directory' ? name.replace(/\/+$/, '') : name;
  if (memberPath.startsWith('/')) throw refused(`${name} is an absolute path`);
  if (memberPath.split('/').some((part) => part === '' || part === '.' || part === '..'))
    throw refused(`${name} is not a plain relative path (empty, "." or ".." parts)`);
  if (type === 'symlink') {
    if (target === '') throw damaged(`${name} is a symlink to nothing`);
    if (target.startsWith('/'))
      throw refused(`${name} is a symlink to the absolute path ${target}`);
  }
  return {
    path: memberPath,
    type,
    ...(type === 'symlink' && { target }),
    executable: (header.mode & 0o111) !== 0,
  };
}

/** No two members at one path, none under a file or a link (no write through a link), no link out. */
function checkTree(members: readonly Member[]): void {
  const byPath = new Map<string, Member>();
  for (const member of members) {
    if (byPath.has(member.path)) throw refused(`${member.path} is in the bundle twice`);
    byPath.set(member.path, member);
  }
  for (const member of members) {
    const parts = member.path.split('/');
    for (let length = 1; length < parts.length; length++) {
      const parent = byPath.get(parts.slice(0, length).join('/'));
      if (parent && parent.type !== 'directory')
        throw refused(`${member.path} lies under ${parent.path}, which is a ${parent.type}`);
    }
  }
  const [escaping] = escapingLinks(members);
  if (escaping)
    throw refused(`${escaping.path} is a symlink to ${escaping.target}, outside the release`);
}

/** Whether `destDir` is already there (then it must be a directory). */
async function existing(destDir: string): Promise<boolean> {
  try {
    if ((await lstat(destDir)).isDirectory()) return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  throw new ReleaseError(`${destDir} exists and is not a directory`, `remove it: rm ${destDir}`);
}

/**
 * A repeated unpack (an agent restarted mid-deploy, a redeploy of the same code) leaves the
 * directory alone when every member is there unchanged; what a build added beside them
 * (node_modules) is allowed.
 */
async function sameRelease(destDir: string, members: readonly Member[]): Promise<void> {
  const why = await difference(destDir, members, { contents: true, extraAllowed: true });
  if (why) {
    throw new ReleaseError(
      `${destDir} already exists with other content: ${why}`,
      `a release directory must not be edited; remove it (rm -r ${destDir}) and deploy again`,
    );
  }
}

/** The first way `dir` differs from `members`, or undefined. Links are never followed. */
async function difference(
  dir: string,
  members: readonly Member[],
  { contents, extraAllowed }: { contents: boolean; extraAllowed: boolean },
): Promise<string | undefined> {
  // Parents first, so a directory swapped for a link is seen before anything under it is read.
  const sorted = [...members].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const member of sorted) {
    const file = path.join(dir, member.path);
    const info = await lstat(file).catch(() => undefined);
    if (!info) return `${member.path} is missing`;
    const type = info.isDirectory()
      ? 'directory'
      : info.isFile()
        ? 'file'
        : info.isSymbolicLink()
          ? 'symlink'
          : 'special file';
    if (type !== member.type) return `${member.path} is a ${type}, not a ${member.type}`;
    if (type === 'symlink' && (await readlink(file)) !== member.target)
      return `${member.path} points elsewhere`;
    if (type === 'file' && ((info.mode & 0o111) !== 0) !== member.executable)
      return `${member.path} has another exec bit`;
    if (type === 'file' && contents && (await sha256File(file)) !== member.sha256)
      return `${member.path} has other content`;
  }
  if (extraAllowed) return undefined;
  const known = new Set(
    members.flatMap((member) =>
      member.path.split('/').map((_, index, parts) => parts.slice(0, index + 1).join('/')),
    ),
  );
  for (const found of await relativePaths(dir)) {
    if (!known.has(found)) return `${found} is not in the bundle`;
  }
  return undefined;
}

/** Every path under `dir`, relative, without following links. */
async function relativePaths(dir: string, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    found.push(relative);
    if (entry.isDirectory()) found.push(...(await relativePaths(dir, relative)));
  }
  return found;
}

/** GNU tar extracts the checked bytes from stdin; times are now (a build tool may compare them). */
async function extract(data: Buffer, dir: string): Promise<void> {
  const { tar, done } = startTar(
    [
      '--extract',
      '--gzip',
      '--file=-',
      `--directory=${dir}`,
      '--no-same-owner',
      '--touch',
      '--no-acls',
      '--no-xattrs',
      '--no-selinux',
    ],
    'unpack the bundle',
  );
  tar.stdout.resume();
  tar.stdin.on('error', () => undefined); // a tar that dies early closes its stdin: `done` says why
  tar.stdin.end(data);
  await done;
}

/** The service user owns its release; links are changed themselves, never followed. */
async function handOver(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const child = path.join(dir, entry.name);
    if (entry.isDirectory()) await handOver(child, owner);
    else await lchown(child, owner.uid, owner.gid);
  }
  await lchown(dir, owner.uid, owner.gid);
}

const UNTRUSTED_HINT =
  'flotilla deploy never makes such a bundle: it was crafted or tampered with; deploy again from the app directory';

function refused(why: string): ReleaseError {
  return new ReleaseError(`release bundle refused: ${why}`, UNTRUSTED_HINT);
}

function damaged(why: string): ReleaseError {
  return new ReleaseError(`release bundle unreadable: ${why}`, UNTRUSTED_HINT);
}
