// The stand-in image for the reference examples' images in the lab (no registry is
// reachable): the busybox test image plus this machine's own Node binary, the shared
// libraries `ldd` says it loads, and the cluster tests' echo.js, which it runs. It listens
// on PORT / PORTS, which a stack renders to the ports inside the container.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestImageOptions } from './test-image.ts';

const run = promisify(execFile);

export const ECHO_IMAGE = 'flotilla-test/echo:lab';
const ECHO_JS = fileURLToPath(new URL('../cluster/fixtures/echo.js', import.meta.url));

/** Options for buildTestImage / LabCluster's `images` that make the stand-in image. */
export function echoImage(): TestImageOptions {
  return {
    reference: ECHO_IMAGE,
    changes: ['CMD ["/usr/bin/node", "/echo.js"]'],
    addToRootfs: addNode,
  };
}

/** Copies `file` (symlinks followed) to the same path under `rootfs`. */
async function copyInto(rootfs: string, file: string, as = file): Promise<void> {
  const target = path.join(rootfs, as);
  await mkdir(path.dirname(target), { recursive: true });
  await copyFile(file, target);
}

async function addNode(rootfs: string): Promise<void> {
  const node = await realpath(process.execPath);
  // Lines are `libc.so.6 => /lib/…/libc.so.6 (0x…)` or `/lib64/ld-linux-….so.2 (0x…)`;
  // linux-vdso has no file.
  const { stdout } = await run('ldd', [node]);
  const libraries = [...stdout.matchAll(/(\/\S+) \(0x[0-9a-f]+\)/g)].map((match) => match[1]!);
  if (libraries.length === 0) throw new Error(`ldd ${node} listed no libraries:\n${stdout}`);
  for (const library of libraries) await copyInto(rootfs, library);
  await copyInto(rootfs, node, '/usr/bin/node');
  await copyInto(rootfs, ECHO_JS, '/echo.js');
}
