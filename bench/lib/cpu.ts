// CPU time of processes from /proc/<pid>/stat (utime + stime), to say where a load's CPU
// went: the client, Caddy, the app.
import { readProcStat } from '../../src/system/proc.ts';

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User + system CPU time of `pid` in ms, or undefined when it is gone. */
export function processCpuMs(pid: number): number | undefined {
  const stat = readProcStat(pid);
  return stat === undefined ? undefined : (stat.cpuTicks * 1000) / TICKS_PER_SECOND;
}

/** CPU time of this process (user + system), ms. */
export function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** Measures the CPU ms each named process spent while `run` ran. */
export async function cpuDuring<T>(
  pids: Record<string, number | 'self'>,
  run: () => Promise<T>,
): Promise<{ value: T; cpuMs: Record<string, number> }> {
  const read = (pid: number | 'self') => (pid === 'self' ? ownCpuMs() : (processCpuMs(pid) ?? NaN));
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, read(pid)]));
  const value = await run();
  const cpuMs = Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => [name, read(pid) - before[name]!]),
  );
  return { value, cpuMs };
}
