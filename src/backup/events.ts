// What every backup or verify run reports, success or failure, with its figures. The shape
// is a bus event (src/bus/events.ts): a runner on a node can publish it as it is.
import { z } from 'zod';
import type { ResolvedJob } from './job.ts';

const BACKUP_EVENT_TYPES = [
  'backup.succeeded',
  'backup.failed',
  'backup.verified',
  'backup.verify_failed',
] as const;

export const backupEventSchema = z.object({
  type: z.enum(BACKUP_EVENT_TYPES),
  at: z.number().int().nonnegative(),
  node: z.string(),
  service: z.string().optional(),
  message: z.string(),
  data: z.object({
    job: z.string(),
    kind: z.string(),
    target: z.string(),
    duration_ms: z.number().nonnegative(),
    snapshot: z.string().optional(),
    bytes_processed: z.number().optional(),
    bytes_added: z.number().optional(),
    /** Snapshots the retention policy removed after this backup. */
    forgotten: z.number().optional(),
    /** "ok" or why the heartbeat ping failed (the backup itself succeeded). */
    heartbeat: z.string().optional(),
    /** What a verify found: tables and rows, keys, files and bytes. */
    figures: z.record(z.string(), z.number()).optional(),
    error: z.string().optional(),
    hint: z.string().optional(),
  }),
});
export type BackupEvent = z.infer<typeof backupEventSchema>;

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** 1234567 → "1.2 MB" (decimal units, as restic and S3 bills count). */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

export function jobEvent(
  job: ResolvedJob,
  type: BackupEvent['type'],
  message: string,
  data: Omit<BackupEvent['data'], 'job' | 'kind' | 'target'>,
): BackupEvent {
  return backupEventSchema.parse({
    type,
    at: Date.now(),
    node: job.node,
    service: job.service,
    message,
    data: { job: job.name, kind: job.source.kind, target: job.target.name, ...data },
  });
}
