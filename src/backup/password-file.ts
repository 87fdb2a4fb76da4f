// restic 0.14 takes a password only from RESTIC_PASSWORD_FILE (or a terminal / stdin, which
// the backup stream needs). The file lives 0600 in a fresh 0700 directory for the length of
// one restic command, then goes: never on argv, never in an environment variable. A process
// killed meanwhile cannot remove it, so the directory is named after the owner's PID, and
// every new one first removes those whose owner is gone.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isAlive } from '../system/proc.ts';

const PREFIX = 'flotilla-restic-';

async function removeOrphans(): Promise<void> {
  const entries = await readdir(os.tmpdir()).catch(() => []);
  for (const entry of entries) {
    const owner = /^flotilla-restic-(\d+)-/.exec(entry)?.[1];
    if (owner !== undefined && !isAlive(Number(owner)))
      await rm(path.join(os.tmpdir(), entry), { recursive: true, force: true });
  }
}

export async function withPasswordFile<T>(
  password: string,
  use: (file: string) => Promise<T>,
): Promise<T> {
  await removeOrphans();
  // mkdtemp creates the directory 0700.
  const dir = await mkdtemp(path.join(os.tmpdir(), `${PREFIX}${process.pid}-`));
  try {
    const file = path.join(dir, 'password');
    await writeFile(file, password, { mode: 0o600 });
    return await use(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
