// restic's JSON output (0.14 and later), checked with zod: a newer restic that changes a
// field fails loudly here rather than recording nonsense.
import { z } from 'zod';
import { BackupError } from './backup-error.ts';

const snapshotSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{64}$/),
  short_id: z.string(),
  time: z.string(),
  hostname: z.string(),
  paths: z.array(z.string()),
  tags: z.array(z.string()).nullish(),
});
export type Snapshot = z.infer<typeof snapshotSchema>;

const backupSummarySchema = z.object({
  message_type: z.literal('summary'),
  data_added: z.number(),
  total_bytes_processed: z.number(),
  total_duration: z.number(),
  snapshot_id: z.string().regex(/^[0-9a-f]{8,64}$/),
});
export type BackupSummary = z.infer<typeof backupSummarySchema>;

const forgetGroupSchema = z.object({ remove: z.array(snapshotSchema).nullable() });

/** `ls --json`: the snapshot first, then one node per line. */
const lsNodeSchema = z.object({
  struct_type: z.literal('node'),
  type: z.string(),
  path: z.string(),
  size: z.number().optional(),
});
export type LsNode = z.infer<typeof lsNodeSchema>;

function parseJson<T>(text: string, schema: z.ZodType<T>, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BackupError(`restic printed unreadable ${what}: ${text.slice(0, 120)}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new BackupError(`restic printed unexpected ${what}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

function jsonLines(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('{'));
}

export function parseSnapshots(text: string): Snapshot[] {
  return parseJson(text, z.array(snapshotSchema).nullable(), 'snapshots') ?? [];
}

/** `backup --json` prints progress lines and then the summary. */
export function parseBackupSummary(text: string): BackupSummary {
  const line = jsonLines(text).find((candidate) => candidate.includes('"summary"'));
  if (line === undefined) throw new BackupError('restic printed no backup summary');
  return parseJson(line, backupSummarySchema, 'backup summary');
}

/** The snapshots `forget --json` removed, over every group. */
export function parseForgotten(text: string): Snapshot[] {
  const groups = parseJson(text, z.array(forgetGroupSchema).nullable(), 'forget output') ?? [];
  return groups.flatMap((group) => group.remove ?? []);
}

export function parseLs(text: string): LsNode[] {
  return jsonLines(text)
    .filter((line) => line.includes('"struct_type":"node"'))
    .map((line) => parseJson(line, lsNodeSchema, 'file list'));
}

/** "restic 0.14.0 compiled with …" → [0, 14, 0]. */
export function parseVersion(text: string): [number, number, number] {
  const match = /^restic (\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  if (!match) throw new BackupError(`cannot read restic's version from "${text.trim()}"`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}
