// Issue 10, item 10: a 50 MB stack file with 470k keys never finished validating (yaml's
// duplicate-key check is quadratic), and the hub runs the same loader for `POST
// /v1/apply`. The attacks here: a big generated file (refused by its size, at once, with
// the limit in the error), a file that exhausts the checker's stack (reported, not
// thrown), and the hub's loader on a slow file (its event loop keeps running, and a load
// past its time limit is stopped).
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackFile, MAX_STACK_FILE_BYTES, parseStackText } from '../../src/spec/load.ts';
import { loadStackFileOffThread, stopLoaderThread } from '../../src/spec/load-off-thread.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';

/** A valid stack of one service with `keys` env entries: about 20 bytes a key. */
function manyKeys(keys: number): string {
  const lines = ['name: big\nservices:\n  api:\n    run: { command: [api] }\n    env:\n'];
  for (let index = 0; index < keys; index++) lines.push(`      KEY_${index}: value-${index}\n`);
  return lines.join('');
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-stack-size-'));
});
afterAll(async () => {
  await stopLoaderThread();
  await rm(dir, { recursive: true, force: true });
});

describe('a stack file over the size limit', () => {
  it('is refused by flotilla validate with its size, the limit and a hint', async () => {
    const file = path.join(dir, 'big.yml');
    await writeFile(file, manyKeys(120_000));
    const size = (await stat(file)).size;
    expect(size).toBeGreaterThan(MAX_STACK_FILE_BYTES);
    const result = await flotilla(['validate', '-f', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `${file}:1:1 error the file is ${(size / 1024 / 1024).toFixed(1)} MiB: a stack file may be at most 2 MiB`,
    );
    expect(result.stderr).toContain('hint: check that -f names your stack file: 2 MiB is far more');
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
  });

  it('is refused the same way by the loader the hub uses', async () => {
    const file = path.join(dir, 'big.yml');
    const result = await loadStackFileOffThread(file);
    expect(result).toEqual(await loadStackFile(file));
    expect(result.ok).toBe(false);
  });
});

describe('a file that exhausts the checker', () => {
  // Twice the chain that exhausts a default Node stack (about 6,000 here).
  const CHAIN = 12_000;

  it('is reported as too large to check, not thrown', { timeout: 60_000 }, () => {
    // Each service depends on the next: the cycle check recurses along the chain.
    const lines = ['name: chain\nservices:\n'];
    for (let index = 0; index < CHAIN; index++)
      lines.push(`  s${index}: { run: { command: [s] }, depends_on: [s${index + 1}] }\n`);
    lines.push(`  s${CHAIN}: { run: { command: [s] } }\n`);
    const result = parseStackText(lines.join(''), 'chain.yml');
    expect(result).toEqual({
      ok: false,
      diagnostics: [
        expect.objectContaining({
          line: 1,
          col: 1,
          message: expect.stringContaining('the file is too large to check'),
        }),
      ],
    });
  });
});

describe("the hub's loader", () => {
  const slow = () => path.join(dir, 'slow.yml');
  beforeAll(async () => {
    // Well under the size limit, and a second or so of parsing.
    await writeFile(slow(), manyKeys(15_000));
  });

  it('gives what loadStackFile gives, and its event loop runs while it parses', async () => {
    const example = 'examples/two-vps-storage-compute/flotilla.yml';
    const options = { knownSecrets: new Set(['POSTGRES_PASSWORD']) };
    expect(await loadStackFileOffThread(example, options)).toEqual(
      await loadStackFile(example, options),
    );
    const loading = loadStackFileOffThread(slow());
    let settled = false;
    void loading.then(() => (settled = true));
    // Turns of this thread's event loop while the file parses. Parsed on this thread, the
    // file would be read, parsed and settled within a few of them.
    for (let turn = 0; turn < 100; turn++) await new Promise(setImmediate);
    expect(settled).toBe(false);
    expect((await loading).ok).toBe(true);
  });

  it('stops a load past its time limit, and the next load works', async () => {
    const result = await loadStackFileOffThread(slow(), {}, 50);
    expect(result).toEqual({
      ok: false,
      diagnostics: [
        expect.objectContaining({
          file: slow(),
          message: 'checking the file took over 0.05 s, so it was stopped',
        }),
      ],
    });
    expect((await loadStackFileOffThread('examples/quickstart/flotilla.yml')).ok).toBe(true);
  });
});
