// How many times the supervisor restarted an instance's container, kept on disk next to
// the process instance records (`<instances>/containers/<id>.json`): a container carries
// no mutable label, and the count must survive an agent restart (adoption).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const recordSchema = z.object({ restarts: z.number().int().min(0) });

function file(dir: string, id: string): string {
  return path.join(dir, 'containers', `${id}.json`);
}

export function readRestarts(dir: string, id: string): number {
  try {
    return recordSchema.parse(JSON.parse(readFileSync(file(dir, id), 'utf8'))).restarts;
  } catch {
    // Missing or unreadable: counting starts over, nothing else depends on it.
    return 0;
  }
}

export function writeRestarts(dir: string, id: string, restarts: number): void {
  mkdirSync(path.dirname(file(dir, id)), { recursive: true, mode: 0o700 });
  writeFileSync(file(dir, id), JSON.stringify({ restarts }), { mode: 0o600 });
}

export function forgetRestarts(dir: string, id: string): void {
  rmSync(file(dir, id), { force: true });
}
