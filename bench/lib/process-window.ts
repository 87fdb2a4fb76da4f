// What named processes cost over a window of wall time: CPU % of one core (utime + stime from
// /proc/<pid>/stat) and VmRSS at its end. For the benches that compare a stack at rest with
// and without a feature, in the same run.
import { processCpuMs } from './cpu.ts';
import { processRssBytes } from './proc-memory.ts';
import { sleep } from './stack.ts';

export interface ProcessWindow {
  /** CPU % of one core over the window, per process. */
  cpuPercent: Record<string, number>;
  rssMb: Record<string, number>;
}

/** Sleeps `windowMs` (or until `during` ends, when given) and says what each process spent. */
export async function measureWindow(
  pids: Record<string, number>,
  windowMs: number,
): Promise<ProcessWindow> {
  const cpu = () => Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, processCpuMs(p)]));
  const before = cpu();
  const started = performance.now();
  await sleep(windowMs);
  const after = cpu();
  const elapsed = performance.now() - started;
  const cpuPercent: Record<string, number> = {};
  const rssMb: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const [from, to] = [before[name], after[name]];
    if (from === undefined || to === undefined) throw new Error(`${name} (pid ${pid}) exited`);
    cpuPercent[name] = ((to - from) / elapsed) * 100;
    rssMb[name] = (processRssBytes(pid) ?? Number.NaN) / 1024 / 1024;
  }
  return { cpuPercent, rssMb };
}
