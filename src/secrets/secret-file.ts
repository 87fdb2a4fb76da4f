// A small secret kept in a file of its own (an age identity, a WireGuard key, the join
// secret): created once, 0600 in a 0700 directory, never replaced. Two processes creating
// it at once agree on one value: the loser of the exclusive create reads the winner's.
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface SecretFileSpec {
  /** What the file holds, for error messages ("join secret"). */
  what: string;
  create(): string | Promise<string>;
  isValid(text: string): boolean;
}

async function readValue(file: string, spec: SecretFileSpec): Promise<string | undefined> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  // Never overwritten: it may be mid-write by another process, or hand-edited.
  if (!spec.isValid(text)) throw new Error(`${file} is not a valid ${spec.what}; fix or remove it`);
  return text;
}

/** The file's value, creating it first if it does not exist yet. */
export async function readOrCreateSecretFile(file: string, spec: SecretFileSpec): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const existing = await readValue(file, spec);
  if (existing !== undefined) {
    if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
    return existing;
  }
  const value = await spec.create();
  try {
    await writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const winner = await readValue(file, spec);
    if (winner === undefined) throw error;
    return winner;
  }
  return value;
}
