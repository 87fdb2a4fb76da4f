// Images for container tests without any registry: a root filesystem holding the static
// busybox (one binary: sh, wget, nc, httpd, sleep, cat, … as symlinks), a minimal /etc
// (root and nobody), imported through the engine client as `docker import` does. Variants
// set CMD, ENV, HEALTHCHECK, … with the import's Dockerfile `changes`, and may add files.
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { DockerEngine } from '../../src/container/engine/index.ts';

const run = promisify(execFile);

export const BUSYBOX = '/bin/busybox';

export interface TestImageOptions {
  /** `repository:tag`; default `flotilla-test/busybox:latest`. */
  reference?: string;
  /** Dockerfile instructions, e.g. `CMD ["httpd", "-f", "-p", "8080"]`, `ENV A=b`. */
  changes?: readonly string[];
  /** Adds files to the root filesystem before it is imported (e.g. echo-image.ts's Node). */
  addToRootfs?: (rootfs: string) => Promise<void>;
}

/** Imports a busybox image; resolves with its id. */
export async function buildTestImage(
  engine: DockerEngine,
  options: TestImageOptions = {},
): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flt-image-'));
  try {
    const rootfs = path.join(dir, 'rootfs');
    await writeRootfs(rootfs);
    await options.addToRootfs?.(rootfs);
    const tar = spawn(
      'tar',
      ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', '-', '.'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    tar.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const tarDone = new Promise<void>((resolve, reject) =>
      tar.once('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`tar exited ${code}: ${stderr}`)),
      ),
    );
    const [id] = await Promise.all([
      engine.images.import(tar.stdout, {
        reference: options.reference ?? 'flotilla-test/busybox:latest',
        changes: options.changes,
      }),
      tarDone,
    ]);
    return id;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function writeRootfs(rootfs: string): Promise<void> {
  for (const sub of ['bin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev', 'var/www', 'home']) {
    await mkdir(path.join(rootfs, sub), { recursive: true });
  }
  await run('chmod', ['1777', path.join(rootfs, 'tmp')]);
  await copyFile(BUSYBOX, path.join(rootfs, 'bin/busybox'));
  const { stdout } = await run(BUSYBOX, ['--list']);
  for (const applet of stdout.split('\n')) {
    if (applet === '' || applet === 'busybox') continue;
    await symlink('busybox', path.join(rootfs, 'bin', applet));
  }
  await writeFile(
    path.join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n',
  );
  await writeFile(path.join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  await writeFile(path.join(rootfs, 'var/www/index.html'), 'hello from flotilla-test\n');
}
