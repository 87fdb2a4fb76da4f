// Attack: a release bundle is unpacked by the agent as root, so whoever can put a bundle in
// front of it (a deployer, a compromised CI job, the bus) would like it to write outside
// `releases/<service>/<sha256>/`: a member path `../x` or `/tmp/x`, a symlink to /etc and
// then a file written through it, a hardlink to /etc/passwd, a device node, or a gzip bomb
// that fills the disk. Each bundle here is crafted with GNU tar itself (`--transform`,
// `--absolute-names`, `--append`), carries the sha256 the hub would name for it, and is
// refused: unpackBundle throws a ReleaseError, nothing lands outside the release (nor in
// /etc), and the release directory does not exist afterwards.
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmod,
  link,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256File } from '../../src/release/bundle.ts';
import { ReleaseError } from '../../src/release/release-error.ts';
import { unpackBundle } from '../../src/release/unpack.ts';

/** A file the /etc attack would create; it must never exist. */
const ETC_MARKER = `flotilla-release-attack-${randomUUID()}`;

let work: string;
/** Where the crafted archives are built from. */
let source: string;
/** Other tests may add users meanwhile: what the attack would change is the links and the payload. */
let passwd: Fingerprint;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'flotilla-release-attack-'));
  source = path.join(work, 'source');
  await mkdir(path.join(source, 'd'), { recursive: true });
  await writeFile(path.join(source, 'index.js'), 'console.log("app")\n');
  await writeFile(path.join(source, 'payload'), 'pwned\n');
  await writeFile(path.join(source, 'd', ETC_MARKER), 'pwned\n');
  await mkdir(path.join(work, 'bundles'));
  passwd = await fingerprint('/etc/passwd');
});
afterAll(async () => {
  await rm(path.join('/etc', ETC_MARKER), { force: true });
  await rm(work, { recursive: true, force: true });
});

interface Fingerprint {
  nlink: number;
  pwned: boolean;
}

async function fingerprint(file: string): Promise<Fingerprint> {
  return {
    nlink: (await stat(file)).nlink,
    pwned: (await readFile(file, 'utf8')).includes('pwned'),
  };
}

/** Runs GNU tar in `source` with `args` (argv, never a shell); returns the archive's path. */
function tar(name: string, args: string[]): string {
  const file = path.join(work, 'bundles', `${name}.tar.gz`);
  execFileSync('tar', ['--format=gnu', '--create', '--gzip', `--file=${file}`, ...args], {
    cwd: source,
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  return file;
}

/**
 * Hands `file` to unpackBundle with the size and sha256 the hub would name for it, and
 * checks the outcome every attack must have: a ReleaseError, no release directory, nothing
 * new in the test's directory, and /etc as it was.
 */
async function attack(
  name: string,
  file: string,
  options: { maxUnpackedBytes?: number } = {},
): Promise<ReleaseError> {
  const expected = { sha256: await sha256File(file), bytes: (await stat(file)).size };
  const dest = path.join(work, 'releases', name, expected.sha256);
  const error = await unpackBundle(file, expected, dest, options).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ReleaseError);
  await expect(stat(dest)).rejects.toThrow(/ENOENT/);
  // Every refusal comes before the first write: not even releases/ is created, and the
  // attacks aim at releases/…, the test's directory itself, and /etc.
  expect((await readdir(work)).sort()).toEqual(['bundles', 'source']);
  await expect(stat(path.join('/etc', ETC_MARKER))).rejects.toThrow(/ENOENT/);
  expect(await fingerprint('/etc/passwd')).toEqual(passwd);
  return error as ReleaseError;
}

describe('release bundle attacks', () => {
  it('refuses a member path that climbs out with ../', async () => {
    const file = tar('traversal', [
      '--absolute-names',
      '--transform=s,^payload$,../../escaped-traversal,',
      'index.js',
      'payload',
    ]);
    const error = await attack('traversal', file);
    expect(error.message).toContain('../../escaped-traversal is not a plain relative path');
    expect(error.hint).toContain('crafted or tampered with');
  });

  it('refuses an absolute member path', async () => {
    const target = path.join(work, 'escaped-absolute');
    const file = tar('absolute', [
      '--absolute-names',
      `--transform=s,^payload$,${target},`,
      'index.js',
      'payload',
    ]);
    const error = await attack('absolute', file);
    expect(error.message).toContain(`${target} is an absolute path`);
  });

  it('refuses a symlink to /etc and the file written through it', async () => {
    await symlink('/etc', path.join(source, 'etc'));
    try {
      const file = tar('etc-link', ['--transform=s,^d/,etc/,', 'etc', `d/${ETC_MARKER}`]);
      const error = await attack('etc-link', file);
      expect(error.message).toMatch(/etc is a symlink to the absolute path \/etc|lies under etc/);
    } finally {
      await rm(path.join(source, 'etc'));
    }
  });

  it('refuses relative symlinks that leave the release, directly or through another link', async () => {
    await symlink('../../..', path.join(source, 'up'));
    await symlink('.', path.join(source, 'here'));
    await symlink('here/../..', path.join(source, 'out'));
    try {
      const direct = tar('up-link', ['index.js', 'up']);
      expect((await attack('up-link', direct)).message).toContain(
        'up is a symlink to ../../.., outside',
      );
      const chained = tar('chained-link', ['index.js', 'here', 'out']);
      expect((await attack('chained-link', chained)).message).toContain(
        'out is a symlink to here/../.., outside',
      );
      // Even a link that stays inside is never written through.
      const through = tar('through-link', ['--transform=s,^d/,here/,', 'here', `d/${ETC_MARKER}`]);
      expect((await attack('through-link', through)).message).toContain('lies under here');
    } finally {
      for (const name of ['up', 'here', 'out']) await rm(path.join(source, name));
    }
  });

  it('refuses a hardlink to /etc/passwd, and a file then written into it', async () => {
    await writeFile(path.join(source, 'a'), 'root::0:0::/root:/bin/sh\n');
    await link(path.join(source, 'a'), path.join(source, 'b'));
    try {
      // b is stored as a hardlink to a; only the link target is rewritten.
      const file = tar('hardlink', [
        '--absolute-names',
        '--transform=s,^a$,/etc/passwd,RSh',
        'a',
        'b',
      ]);
      expect((await attack('hardlink', file)).message).toContain('b is a hardlink');

      // The same, then a regular member b appended: it would land in the linked file.
      const plain = path.join(work, 'bundles', 'hardlink-write.tar');
      execFileSync(
        'tar',
        [
          '--format=gnu',
          '--create',
          `--file=${plain}`,
          '--absolute-names',
          '--transform=s,^a$,/etc/passwd,RSh',
          'a',
          'b',
        ],
        { cwd: source },
      );
      execFileSync(
        'tar',
        ['--format=gnu', '--append', `--file=${plain}`, '--transform=s,^payload$,b,', 'payload'],
        { cwd: source },
      );
      const overwrite = `${plain}.gz`;
      await writeFile(overwrite, gzipSync(await readFile(plain)));
      await rm(plain);
      expect((await attack('hardlink-write', overwrite)).message).toContain('b is a hardlink');
    } finally {
      await rm(path.join(source, 'a'));
      await rm(path.join(source, 'b'));
    }
  });

  it('refuses device and fifo members', async () => {
    const device = path.join(work, 'bundles', 'device.tar.gz');
    execFileSync('tar', [
      '--format=gnu',
      '--create',
      '--gzip',
      `--file=${device}`,
      '-C',
      '/dev',
      'null',
    ]);
    expect((await attack('device', device)).message).toContain('null is a character device');

    execFileSync('mkfifo', [path.join(source, 'fifo')]);
    try {
      const fifo = tar('fifo', ['index.js', 'fifo']);
      expect((await attack('fifo', fifo)).message).toContain('fifo is a named pipe');
    } finally {
      await rm(path.join(source, 'fifo'));
    }
  });

  it('refuses a set-uid program (root-owned once unpacked without an owner)', async () => {
    await chmod(path.join(source, 'payload'), 0o4755);
    try {
      const file = tar('setuid', ['index.js', 'payload']);
      expect((await attack('setuid', file)).message).toContain('payload has mode 4755: set-id');
    } finally {
      await chmod(path.join(source, 'payload'), 0o644);
    }
  });

  it('stops a gzip bomb past the default 1 GiB before writing anything', async () => {
    // A tar header for a 1.06 GiB file of zeros, the zeros as 17 copies of one gzip member
    // of 64 MiB (gzip members concatenate), then the end of the archive: about 1 MB.
    const sparse = path.join(source, 'zeros');
    await writeFile(sparse, '');
    await truncate(sparse, 17 * 64 * 1024 * 1024);
    const header = await firstBlock(['--format=gnu', '--create', '--file=-', 'zeros']);
    await rm(sparse);
    const zeros = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const bomb = path.join(work, 'bundles', 'bomb.tar.gz');
    await writeFile(
      bomb,
      Buffer.concat([gzipSync(header), ...Array(17).fill(zeros), gzipSync(Buffer.alloc(1024))]),
    );
    expect((await stat(bomb)).size).toBeLessThan(2 * 1024 * 1024);
    const error = await attack('bomb', bomb);
    expect(error.message).toContain('unpacks to more than 1.1 GB');
  });

  it('refuses a bundle in another tar format (what it would mean is not what was checked)', async () => {
    const file = path.join(work, 'bundles', 'pax.tar.gz');
    execFileSync('tar', ['--format=posix', '--create', '--gzip', `--file=${file}`, 'index.js'], {
      cwd: source,
    });
    expect((await attack('pax', file)).message).toContain('GNU tar --format=gnu did not write');
  });

  it('refuses a bundle changed after the hub named it, even by one byte', async () => {
    const file = tar('tampered', ['index.js', 'payload']);
    const expected = { sha256: await sha256File(file), bytes: (await stat(file)).size };
    const bytes = await readFile(file);
    const at = bytes.length - 12; // inside the deflate data, before gzip's CRC and length
    bytes.writeUInt8(bytes.readUInt8(at) ^ 1, at);
    await writeFile(file, bytes);
    const dest = path.join(work, 'releases', 'tampered', expected.sha256);
    await expect(unpackBundle(file, expected, dest)).rejects.toThrow(/has sha256/);
    await expect(stat(path.dirname(dest))).rejects.toThrow(/ENOENT/);
  });
});

/** The first 512 bytes GNU tar writes for `args`: a member's header, without its data. */
async function firstBlock(args: string[]): Promise<Buffer> {
  const child = spawn('tar', args, { cwd: source, stdio: ['ignore', 'pipe', 'ignore'] });
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    length += chunk.length;
    if (length >= 512) break;
  }
  child.kill('SIGKILL');
  await new Promise((resolve) =>
    child.exitCode === null && child.signalCode === null
      ? child.once('close', resolve)
      : resolve(undefined),
  );
  return Buffer.concat(chunks).subarray(0, 512);
}
