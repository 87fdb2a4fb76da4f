// restic 0.14 takes a password only from RESTIC_PASSWORD_FILE (or a terminal / stdin, which
// the backup stream needs). The file lives 0600 in a fresh 0700 directory for the length of
// one restic command, then goes: never on argv, never in an environment variable.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export async function withPasswordFile<T>(
  password: string,
  use: (file: string) => Promise<T>,
): Promise<T> {
  // mkdtemp creates the directory 0700.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-restic-'));
  try {
    const file = path.join(dir, 'password');
    await writeFile(file, password, { mode: 0o600 });
    return await use(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
