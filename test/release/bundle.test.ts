// A release bundle end to end with GNU tar: the same tree gives the same sha256 whatever its
// times, one changed byte gives another; what goes in comes out (exec bit, symlinks, empty
// directories, hardlinked files as copies); a directory that cannot be a release is refused
// with a hint; unpackBundle refuses a bundle that is not the one named and leaves an
// existing release alone when it is the same.
import { execFileSync } from 'node:child_process';
import {
  chmod,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBundle, sha256File, type Bundle } from '../../src/release/bundle.ts';
import { ReleaseError } from '../../src/release/release-error.ts';
import { unpackBundle } from '../../src/release/unpack.ts';

let work: string;
let server: Server | undefined;
beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'flotilla-bundle-'));
});
afterAll(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await rm(work, { recursive: true, force: true });
});

const LONG = `lib/${'deeply-nested-'.repeat(5)}/${'name-'.repeat(20)}.js`;

let apps = 0;
/** A small Node app in a new directory, with every mtime set to `time` (seconds). */
async function nodeApp(time: number): Promise<string> {
  const dir = path.join(work, `app-${++apps}`);
  await mkdir(path.join(dir, 'src', 'routes'), { recursive: true });
  await mkdir(path.join(dir, 'empty'));
  await writeFile(path.join(dir, 'package.json'), '{ "name": "api", "type": "module" }\n');
  await writeFile(path.join(dir, 'src', 'server.js'), 'console.log("serving")\n');
  await writeFile(path.join(dir, 'src', 'routes', 'visits.js'), 'export const visits = 1;\n');
  await writeFile(path.join(dir, 'start.sh'), '#!/bin/sh\nexec node src/server.js\n');
  await chmod(path.join(dir, 'start.sh'), 0o755);
  await symlink('src/server.js', path.join(dir, 'main.js'));
  // Past tar's 100-byte name fields: GNU long-name and long-link records.
  await mkdir(path.join(dir, path.dirname(LONG)), { recursive: true });
  await writeFile(path.join(dir, LONG), 'export default "long";\n');
  await symlink(LONG, path.join(dir, 'long-link.js'));
  for (const file of ['package.json', 'src/server.js', 'src/routes/visits.js', 'start.sh', LONG])
    await utimes(path.join(dir, file), time, time);
  return dir;
}

async function refusal(promise: Promise<unknown>): Promise<ReleaseError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ReleaseError);
  return error as ReleaseError;
}

describe('createBundle', () => {
  it('gives the same sha256 for the same tree with other times, and another for one changed byte', async () => {
    const first = await createBundle(await nodeApp(1_000_000), { tmpDir: work });
    const second = await createBundle(await nodeApp(2_000_000_000), { tmpDir: work });
    expect(second.sha256).toBe(first.sha256);
    expect(second.bytes).toBe(first.bytes);
    expect(first.files).toBe(7);
    expect(await sha256File(first.file)).toBe(first.sha256);
    expect((await stat(first.file)).size).toBe(first.bytes);

    const changed = await nodeApp(1_000_000);
    await writeFile(path.join(changed, 'src', 'routes', 'visits.js'), 'export const visits = 2;\n');
    const third = await createBundle(changed, { tmpDir: work });
    expect(third.sha256).not.toBe(first.sha256);
  });

  it('round-trips content, the exec bit, symlinks, empty directories and hardlinked files', async () => {
    const dir = await nodeApp(1_000_000);
    await link(path.join(dir, 'package.json'), path.join(dir, 'package.copy.json'));
    const bundle = await createBundle(dir, { tmpDir: work });
    const dest = path.join(work, 'releases', 'roundtrip', bundle.sha256);
    await unpackBundle(bundle.file, bundle, dest);

    expect(await readFile(path.join(dest, 'src/routes/visits.js'), 'utf8')).toBe(
      'export const visits = 1;\n',
    );
    expect(await readFile(path.join(dest, 'package.copy.json'), 'utf8')).toContain('"api"');
    expect((await stat(path.join(dest, 'package.copy.json'))).nlink).toBe(1);
    expect((await stat(path.join(dest, 'start.sh'))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(dest, 'src/server.js'))).mode & 0o777).toBe(0o644);
    expect(await readlink(path.join(dest, 'main.js'))).toBe('src/server.js');
    expect(await readFile(path.join(dest, 'long-link.js'), 'utf8')).toBe(
      'export default "long";\n',
    );
    expect(await readdir(path.join(dest, 'empty'))).toEqual([]);
    expect(execFileSync(path.join(dest, 'start.sh'), { cwd: dest, encoding: 'utf8' })).toBe(
      'serving\n',
    );
    // Nothing left beside the release but the release.
    expect(await readdir(path.dirname(dest))).toEqual([bundle.sha256]);
  });

  it('refuses a missing directory, a file, and an app with nothing left to bundle', async () => {
    const missing = await refusal(createBundle(path.join(work, 'nope'), { tmpDir: work }));
    expect(missing.message).toContain('does not exist');
    expect(missing.hint).toContain('--from');

    await writeFile(path.join(work, 'a-file'), 'x');
    const file = await refusal(createBundle(path.join(work, 'a-file'), { tmpDir: work }));
    expect(file.message).toContain('is not a directory');

    const dir = path.join(work, 'only-ignored');
    await mkdir(path.join(dir, 'node_modules', 'x'), { recursive: true });
    await writeFile(path.join(dir, 'node_modules', 'x', 'index.js'), 'x');
    await writeFile(path.join(dir, '.env'), 'SECRET=1');
    const empty = await refusal(createBundle(dir, { tmpDir: work }));
    expect(empty.message).toContain('nothing to deploy');
  });

  it('refuses symlinks that leave the app: absolute, ../, and through another link', async () => {
    const cases: [string, [string, string][]][] = [
      ['absolute', [['etc', '/etc']]],
      ['parent', [['up', '../outside']]],
      [
        'chained',
        [
          ['here', '.'],
          ['out', 'here/..'],
        ],
      ],
    ];
    for (const [name, links] of cases) {
      const dir = path.join(work, `links-${name}`);
      await mkdir(dir);
      await writeFile(path.join(dir, 'index.js'), 'x');
      for (const [from, to] of links) await symlink(to, path.join(dir, from));
      const error = await refusal(createBundle(dir, { tmpDir: work }));
      expect(error.message).toMatch(/is a symlink to .* outside/);
      expect(error.hint).toContain('.flotillaignore');
    }
  });

  it('refuses a socket and a fifo, and bundles the app once they are ignored', async () => {
    const dir = path.join(work, 'special');
    await mkdir(dir);
    await writeFile(path.join(dir, 'index.js'), 'x');
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    const fifo = await refusal(createBundle(dir, { tmpDir: work }));
    expect(fifo.message).toContain('named pipe');

    await writeFile(path.join(dir, '.flotillaignore'), 'pipe\n');
    server = createServer();
    await new Promise<void>((resolve) => server!.listen(path.join(dir, 'app.sock'), resolve));
    const socket = await refusal(createBundle(dir, { tmpDir: work }));
    expect(socket.message).toContain('socket');
    expect(socket.hint).toContain('.flotillaignore');

    await writeFile(path.join(dir, '.flotillaignore'), 'pipe\n*.sock\n');
    expect((await createBundle(dir, { tmpDir: work })).files).toBe(2);
  });

  it('stops a bundle over maxBytes, removes it, and names the largest entries', async () => {
    const dir = path.join(work, 'big');
    await mkdir(path.join(dir, 'media'), { recursive: true });
    await writeFile(path.join(dir, 'index.js'), 'x');
    // Random bytes do not compress: 2 MB in, about 2 MB out.
    await writeFile(
      path.join(dir, 'media', 'video.bin'),
      crypto.getRandomValues(new Uint8Array(65536)),
    );
    for (let index = 0; index < 31; index++)
      await writeFile(
        path.join(dir, 'media', `part-${index}.bin`),
        crypto.getRandomValues(new Uint8Array(65536)),
      );
    const before = await readdir(work);
    const error = await refusal(createBundle(dir, { tmpDir: work, maxBytes: 1024 * 1024 }));
    expect(error.message).toContain('is over 1.0 MB');
    expect(error.hint).toContain('.flotillaignore');
    expect(error.hint).toContain('media 2.1 MB');
    expect(await readdir(work)).toEqual(before);
  });
});

describe('unpackBundle', () => {
  let bundle: Bundle;
  beforeAll(async () => {
    bundle = await createBundle(await nodeApp(1_000_000), { tmpDir: work });
  });

  it('refuses a bundle of another size or sha256 before writing anything', async () => {
    const parent = path.join(work, 'refused');
    const dest = path.join(parent, 'api', bundle.sha256);
    const size = await refusal(
      unpackBundle(bundle.file, { ...bundle, bytes: bundle.bytes - 1 }, dest),
    );
    expect(size.message).toContain(`not the ${bundle.bytes - 1}`);
    const sha = await refusal(
      unpackBundle(bundle.file, { ...bundle, sha256: 'f'.repeat(64) }, dest),
    );
    expect(sha.message).toContain('has sha256');
    const malformed = await refusal(unpackBundle(bundle.file, { ...bundle, sha256: 'F00' }, dest));
    expect(malformed.message).toContain('malformed');
    await expect(stat(parent)).rejects.toThrow(/ENOENT/);
  });

  it('leaves a release already there alone, with a build beside it, and refuses an edited one', async () => {
    const dest = path.join(work, 'again', bundle.sha256);
    await unpackBundle(bundle.file, bundle, dest);
    await mkdir(path.join(dest, 'node_modules', 'dep'), { recursive: true });
    const before = await lstat(path.join(dest, 'src', 'server.js'));
    await unpackBundle(bundle.file, bundle, dest);
    const after = await lstat(path.join(dest, 'src', 'server.js'));
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect(await readdir(path.dirname(dest))).toEqual([bundle.sha256]);

    await writeFile(path.join(dest, 'src', 'server.js'), 'console.log("patched on the node")\n');
    const edited = await refusal(unpackBundle(bundle.file, bundle, dest));
    expect(edited.message).toContain('src/server.js has other content');
    expect(edited.hint).toContain(`rm -r ${dest}`);
  });

  it('refuses a bundle that unpacks past maxUnpackedBytes, leaving nothing', async () => {
    const dest = path.join(work, 'bounded', bundle.sha256);
    const error = await refusal(
      unpackBundle(bundle.file, bundle, dest, { maxUnpackedBytes: 4096 }),
    );
    expect(error.message).toContain('unpacks to more than 4.1 KB');
    await expect(stat(path.dirname(dest))).rejects.toThrow(/ENOENT/);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'hands the release to its owner, links included',
    async () => {
      const dest = path.join(work, 'owned', bundle.sha256);
      await unpackBundle(bundle.file, bundle, dest, { owner: { uid: 65534, gid: 65534 } });
      for (const file of ['.', 'src', 'src/routes/visits.js', 'start.sh', 'main.js', 'empty']) {
        const info = await lstat(path.join(dest, file));
        expect([file, info.uid, info.gid]).toEqual([file, 65534, 65534]);
      }
      // The link itself changed hands, not what it points at through it.
      expect((await lstat(path.join(dest, 'main.js'))).isSymbolicLink()).toBe(true);
      expect((await stat(path.join(dest, '.'))).mode & 0o777).toBe(0o755);
    },
  );
});
