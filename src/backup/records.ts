// What restic 0.14 does not keep about a snapshot: the bytes a backup read and added, and
// whether a verify restored it. One small JSON file per job under the state dir
// (`<stateDir>/backups/<job>.json`), keyed by the snapshot's short id; entries for snapshots
// the retention removed are dropped.
import path from 'node:path';
import { z } from 'zod';
import { PrivateJsonError, readPrivateJson, writePrivateJson } from '../state/private-json.ts';
import { BackupError } from './backup-error.ts';

const recordSchema = z.object({
  runs: z.record(
    z.string(),
    z.object({
      at: z.number(),
      bytes_processed: z.number(),
      bytes_added: z.number(),
      duration_ms: z.number(),
    }),
  ),
  verified: z.record(z.string(), z.object({ at: z.number(), ok: z.boolean(), detail: z.string() })),
});
export type JobRecord = z.infer<typeof recordSchema>;

/** Where backups keep local state: records and restic's cache. */
export function backupsDir(stateDir: string): string {
  return path.join(stateDir, 'backups');
}

function recordFile(stateDir: string, job: string): string {
  return path.join(backupsDir(stateDir), `${job}.json`);
}

export async function readJobRecord(stateDir: string, job: string): Promise<JobRecord> {
  const file = recordFile(stateDir, job);
  try {
    return (await readPrivateJson(file, recordSchema)) ?? { runs: {}, verified: {} };
  } catch (error) {
    if (!(error instanceof PrivateJsonError)) throw error;
    throw new BackupError(
      `${file} is not a Flotilla backup record`,
      'remove it: only figures are lost',
    );
  }
}

/** Reads, changes and writes back (aside and renamed: a crash never leaves half a file). */
export async function updateJobRecord(
  stateDir: string,
  job: string,
  change: (record: JobRecord) => void,
): Promise<void> {
  const record = await readJobRecord(stateDir, job);
  change(record);
  await writePrivateJson(recordFile(stateDir, job), record);
}
