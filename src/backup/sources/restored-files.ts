// Checking a restore of whole snapshots (files, and a command's output): every regular file
// restic lists must come back with its size, and its SHA-256 is taken on the way.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BackupError } from '../backup-error.ts';
import type { Snapshot } from '../restic-output.ts';
import type { SourceContext, Verified } from './source.ts';

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function verifyRestoredFiles(
  { restic }: SourceContext,
  snapshot: Snapshot,
): Promise<Verified> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-verify-'));
  try {
    await restic.restore(snapshot.id, dir);
    const files = (await restic.ls(snapshot.id)).filter((node) => node.type === 'file');
    // One digest over every file's path and content: a record that two verifies can compare.
    const digest = createHash('sha256');
    let bytes = 0;
    for (const file of files) {
      const restored = path.join(dir, file.path);
      const found = await stat(restored).catch(() => undefined);
      if (!found) throw new BackupError(`${file.path} is in the snapshot but did not come back`);
      if (found.size !== file.size)
        throw new BackupError(
          `${file.path} came back with ${found.size} bytes, the snapshot lists ${file.size}`,
        );
      digest.update(`${file.path}\0${await sha256File(restored)}\n`);
      bytes += found.size;
    }
    return {
      detail: `${files.length} files, ${bytes} bytes, sha256 ${digest.digest('hex').slice(0, 16)}`,
      figures: { files: files.length, bytes },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
