// An instance's output lives in one file, `<logDir>/<id>.log`, stdout and stderr together:
// the child writes straight into it (the agent may be down), so nothing could timestamp or
// tag the lines afterwards, and one file is the only way to keep them in the order they
// happened. Rotation is copy-then-truncate, because the running process keeps its
// descriptor: `<id>.log.1` is the newest old part, `<id>.log.<keep>` the oldest.
import { constants, openSync } from 'node:fs';
import { copyFile, open, rename, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';

export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_LOG_KEEP = 3;
const DEFAULT_FOLLOW_INTERVAL_MS = 250;
const READ_CHUNK = 64 * 1024;

export function instanceLogFile(logDir: string, id: string): string {
  return path.join(logDir, `${id}.log`);
}

/**
 * A descriptor for the child's stdout and stderr. O_APPEND makes every write land at the
 * current end, so after a truncation the file restarts at zero instead of growing a hole.
 */
export function openLogFile(file: string): number {
  return openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o640);
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/**
 * Rotates `file` when it is larger than `maxBytes`, keeping `keep` old parts. Lines the
 * process writes between the copy and the truncation are lost: the price of never
 * interrupting it.
 */
export async function rotateLog(file: string, maxBytes: number, keep: number): Promise<boolean> {
  const size = await sizeOf(file);
  if (size === undefined || size <= maxBytes) return false;
  for (let part = keep - 1; part >= 1; part--) {
    await rename(`${file}.${part}`, `${file}.${part + 1}`).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
  }
  if (keep > 0) await copyFile(file, `${file}.1`);
  await truncate(file, 0);
  return true;
}

/** Bytes [start, end) of a file (fewer if it shrank meanwhile). */
async function readRange(file: string, start: number, end: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(Math.max(0, end - start));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The last `count` lines before byte `end`, reading backwards only as far as needed. */
async function lastLines(file: string, count: number, end: number): Promise<string[]> {
  const chunks: Buffer[] = [];
  let start = end;
  let newlines = 0;
  // `count` lines need `count` newlines before the last line's end (or the file's start).
  while (start > 0 && newlines < count) {
    const from = Math.max(0, start - READ_CHUNK);
    const chunk = await readRange(file, from, start);
    // A newline that ends the file closes the last line; it does not start another.
    const scanned = start === end && chunk.at(-1) === 0x0a ? chunk.length - 1 : chunk.length;
    for (let index = 0; index < scanned; index++) if (chunk[index] === 0x0a) newlines++;
    chunks.unshift(chunk);
    start = from;
  }
  // Cutting inside a multi-byte character only ever damages the dropped first line.
  const lines = Buffer.concat(chunks).toString('utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-count);
}

/**
 * The last `count` lines of an instance's log, reaching into rotated parts when the
 * current file holds fewer (`flotilla logs -n N`). `end` limits the current file to its
 * first `end` bytes.
 */
export async function tailLog(file: string, count: number, end?: number): Promise<string[]> {
  let lines: string[] = [];
  for (let part = 0; lines.length < count; part++) {
    const name = part === 0 ? file : `${file}.${part}`;
    const size = await sizeOf(name);
    if (size === undefined) {
      if (part === 0) continue;
      break;
    }
    const limit = part === 0 && end !== undefined ? Math.min(end, size) : size;
    lines = [...(await lastLines(name, count - lines.length, limit)), ...lines];
  }
  return lines;
}

const ignore = () => undefined;

export interface FollowOptions {
  /** Lines of history to deliver first (default 0: only what is written from now on). */
  lines?: number;
  /** How often the file is checked for growth; bounds the delay of each new line. */
  intervalMs?: number;
}

export interface LogFollower {
  close(): void;
}

/**
 * Calls `onLines` with every complete line appended to `file` (`flotilla logs -f`). Polls
 * the size, which also sees through rotation: when the file shrank, the rest of the old
 * content is read from `<file>.1`, the copy rotation just made, and reading restarts at 0.
 * (Only a service writing more after a rotation than it had before, within one interval,
 * could hide that rotation.)
 */
export function followLog(
  file: string,
  onLines: (lines: string[]) => void,
  options: FollowOptions = {},
): LogFollower {
  const intervalMs = options.intervalMs ?? DEFAULT_FOLLOW_INTERVAL_MS;
  const decoder = new StringDecoder('utf8');
  let partial = '';
  let position = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  const deliver = (chunk: Buffer) => {
    const lines = (partial + decoder.write(chunk)).split('\n');
    partial = lines.pop() ?? '';
    if (lines.length > 0 && !closed) onLines(lines);
  };

  const check = async () => {
    const size = (await sizeOf(file)) ?? 0;
    if (size < position) {
      const rotatedSize = (await sizeOf(`${file}.1`)) ?? 0;
      if (rotatedSize >= position) deliver(await readRange(`${file}.1`, position, rotatedSize));
      position = 0;
    }
    if (size > position) {
      deliver(await readRange(file, position, size));
      position = size;
    }
  };

  // A read that fails (the file vanished or was replaced under it) is simply tried again on
  // the next check: following must outlive whatever happens to the file.
  const schedule = () => {
    if (!closed) timer = setTimeout(() => void check().catch(ignore).finally(schedule), intervalMs);
  };

  void (async () => {
    position = (await sizeOf(file)) ?? 0;
    if (options.lines) {
      const history = await tailLog(file, options.lines, position);
      if (history.length > 0 && !closed) onLines(history);
    }
  })()
    .catch(ignore)
    .finally(schedule);

  return {
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
