// A small JSON document kept 0600 in a 0700 directory, checked with zod on every read and
// replaced atomically (written aside, then renamed) so a crash never leaves half a file.
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';

/** The file exists but does not hold what it should. */
export class PrivateJsonError extends Error {}

/** The file's content, or undefined when it does not exist; throws when it is not valid. */
export async function readPrivateJson<T>(
  file: string,
  schema: z.ZodType<T>,
): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new PrivateJsonError(`${file} is not valid JSON; fix or remove it`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new PrivateJsonError(`${file} is not in the expected format; fix or remove it`);
  return parsed.data;
}

export async function writePrivateJson(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // Per writer: two writers of one file, in one process or two, must not share a temporary.
  const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}
