// The restic password file: gone after the command, and gone after a crash too (the next
// one removes the directories of owners that died).
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withPasswordFile } from '../../src/backup/password-file.ts';

describe('the restic password file', () => {
  it('exists 0600 only while the command runs', async () => {
    let seen = '';
    await withPasswordFile('s3cret-pw', async (file) => {
      seen = file;
      expect(await readdir(path.dirname(file))).toEqual(['password']);
    });
    await expect(readdir(path.dirname(seen))).rejects.toThrow();
  });

  it("removes the file of a process that was killed before it could, and no one else's", async () => {
    const dead = spawn('true');
    await new Promise((resolve) => dead.once('exit', resolve));
    const orphan = path.join(os.tmpdir(), `flotilla-restic-${dead.pid}-orphan`);
    const living = path.join(os.tmpdir(), `flotilla-restic-${process.pid}-living`);
    for (const dir of [orphan, living]) {
      await mkdir(dir, { mode: 0o700 });
      await writeFile(path.join(dir, 'password'), 'left behind', { mode: 0o600 });
    }
    try {
      await withPasswordFile('pw', async () => undefined);
      await expect(readdir(orphan)).rejects.toThrow();
      expect(await readdir(living)).toEqual(['password']);
    } finally {
      await rm(living, { recursive: true, force: true });
      await rm(orphan, { recursive: true, force: true });
    }
  });
});
