// Log files: rotation keeps N old parts, tail reads back across them, follow sees new
// lines, including through a rotation.
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  followLog,
  instanceLogFile,
  rotateLog,
  tailLog,
  type LogFollower,
} from '../../../src/agent/process/log-files.ts';
import { waitFor } from './fixtures/harness.ts';

let dir: string;
let file: string;
let follower: LogFollower | undefined;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'flotilla-logs-'));
  file = instanceLogFile(dir, 'web-1');
});

afterEach(async () => {
  follower?.close();
  follower = undefined;
  await rm(dir, { recursive: true, force: true });
});

const exists = (name: string) =>
  stat(name).then(
    () => true,
    () => false,
  );

describe('rotateLog', () => {
  it('leaves a file under the cap alone', async () => {
    await writeFile(file, 'small\n');
    expect(await rotateLog(file, 100, 3)).toBe(false);
    expect(await rotateLog(path.join(dir, 'missing.log'), 100, 3)).toBe(false);
    expect(await exists(`${file}.1`)).toBe(false);
  });

  it('copies, truncates and keeps only the newest N parts', async () => {
    for (const round of [1, 2, 3, 4]) {
      await writeFile(file, `round ${round}\n`.repeat(20));
      expect(await rotateLog(file, 100, 2)).toBe(true);
      expect((await stat(file)).size).toBe(0);
    }
    expect(await readFile(`${file}.1`, 'utf8')).toMatch(/^round 4\n/);
    expect(await readFile(`${file}.2`, 'utf8')).toMatch(/^round 3\n/);
    expect(await exists(`${file}.3`)).toBe(false);
  });
});

describe('tailLog', () => {
  it('returns the last lines, reaching into rotated parts when needed', async () => {
    await writeFile(`${file}.2`, 'one\ntwo\n');
    await writeFile(`${file}.1`, 'three\nfour\n');
    await writeFile(file, 'five\nsix'); // the last line is still being written
    expect(await tailLog(file, 1)).toEqual(['six']);
    expect(await tailLog(file, 3)).toEqual(['four', 'five', 'six']);
    expect(await tailLog(file, 10)).toEqual(['one', 'two', 'three', 'four', 'five', 'six']);
  });

  it('reads a large file backwards in chunks', async () => {
    const lines = Array.from({ length: 20_000 }, (_, index) => `line ${index} ${'é'.repeat(5)}`);
    await writeFile(file, `${lines.join('\n')}\n`);
    expect(await tailLog(file, 3)).toEqual(lines.slice(-3));
    expect(await tailLog(file, 15_000)).toEqual(lines.slice(-15_000));
  });

  it('is empty for a log that does not exist yet', async () => {
    expect(await tailLog(file, 5)).toEqual([]);
  });
});

describe('followLog', () => {
  it('delivers history, then new lines as they are written, through a rotation', async () => {
    await writeFile(file, 'old 1\nold 2\n');
    const seen: string[] = [];
    // Checks far enough apart that the rotation below lands between two of them.
    follower = followLog(file, (lines) => seen.push(...lines), { lines: 1, intervalMs: 150 });
    await waitFor(() => seen.length === 1, 'the history');
    expect(seen).toEqual(['old 2']);

    await appendFile(file, 'new 1\nnew');
    await waitFor(() => seen.length === 2, 'the first new line');
    await appendFile(file, ' 2\nbefore rotation\n');
    // Rotate before the follower's next look: the line is read back from `.1`.
    await rotateLog(file, 0, 3);
    await appendFile(file, 'after rotation\n');
    await waitFor(() => seen.length === 5, 'the lines around the rotation');
    expect(seen).toEqual(['old 2', 'new 1', 'new 2', 'before rotation', 'after rotation']);
  });

  it('waits for a file that does not exist yet', async () => {
    const seen: string[] = [];
    follower = followLog(file, (lines) => seen.push(...lines), { intervalMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await writeFile(file, 'hello\n');
    await waitFor(() => seen.length === 1, 'the first line');
    expect(seen).toEqual(['hello']);
  });
});
