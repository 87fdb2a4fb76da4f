// Resident memory of a process from /proc/<pid>/status (VmRSS), for the benches that say what
// the hub, nats-server or an agent costs in memory.
import { readFileSync } from 'node:fs';

/** VmRSS of `pid` in bytes, or undefined when it is gone. */
export function processRssBytes(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(text)?.[1];
  return kib === undefined ? undefined : Number(kib) * 1024;
}
