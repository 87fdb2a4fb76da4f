// What a node's agent measures of its machine for the hub's node monitors and metrics: CPU
// (from /proc/stat, between two readings), memory (/proc/meminfo), load (/proc/loadavg),
// uptime (/proc/uptime) and the disk holding the state directory (statfs). The parsers take
// text, so they are tested on fixtures; the reader around them is thin.
import { readFile, statfs } from 'node:fs/promises';
import path from 'node:path';

export interface HostMetrics {
  /** Busy share of all CPUs since the previous reading (since boot on the first), 0-100. */
  cpuPercent: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  diskUsedBytes: number;
  diskTotalBytes: number;
  load1: number;
  load5: number;
  load15: number;
  uptimeSeconds: number;
}

/** The aggregate CPU line of /proc/stat: jiffies idle and in total. */
export interface CpuSample {
  idle: number;
  total: number;
}

/** The /proc file is not what the kernel writes: a container without /proc, or a bug. */
export class HostMetricsError extends Error {
  override readonly name = 'HostMetricsError';
}

function numbers(text: string, what: string): number[] {
  const values = text.trim().split(/\s+/).map(Number);
  if (values.length === 0 || values.some((value) => !Number.isFinite(value)))
    throw new HostMetricsError(`unreadable ${what}: ${JSON.stringify(text.slice(0, 80))}`);
  return values;
}

/** `cpu  user nice system idle iowait irq softirq steal guest guest_nice`: guest is in user already. */
export function parseCpuSample(stat: string): CpuSample {
  const line = stat.split('\n').find((candidate) => candidate.startsWith('cpu '));
  if (line === undefined) throw new HostMetricsError('no cpu line in /proc/stat');
  const fields = numbers(line.slice(4), '/proc/stat cpu line');
  if (fields.length < 4) throw new HostMetricsError('a /proc/stat cpu line of fewer than 4 fields');
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] =
    fields;
  return {
    idle: idle + iowait,
    total: user + nice + system + idle + iowait + irq + softirq + steal,
  };
}

/** Busy share between two samples, to a tenth of a percent; 0 when no time passed. */
export function cpuPercent(previous: CpuSample, current: CpuSample): number {
  const total = current.total - previous.total;
  if (total <= 0) return 0;
  const busy = total - (current.idle - previous.idle);
  return Math.round(Math.min(100, Math.max(0, (busy / total) * 100)) * 10) / 10;
}

/** Used = MemTotal - MemAvailable, as `free` counts it (the page cache is not used). */
export function parseMeminfo(meminfo: string): {
  memoryUsedBytes: number;
  memoryTotalBytes: number;
} {
  const kib = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(meminfo);
    if (!match) throw new HostMetricsError(`no ${name} in /proc/meminfo`);
    return Number(match[1]) * 1024;
  };
  const total = kib('MemTotal');
  return { memoryTotalBytes: total, memoryUsedBytes: total - kib('MemAvailable') };
}

export function parseLoadavg(loadavg: string): { load1: number; load5: number; load15: number } {
  const [load1, load5, load15] = numbers(loadavg.split(' ').slice(0, 3).join(' '), '/proc/loadavg');
  if (load15 === undefined) throw new HostMetricsError('a /proc/loadavg of fewer than 3 loads');
  return { load1: load1!, load5: load5!, load15 };
}

/** The first field of /proc/uptime: seconds since boot. */
export function parseUptime(uptime: string): number {
  return Math.floor(numbers(uptime, '/proc/uptime')[0]!);
}

export interface HostMetricsReaderOptions {
  /** The disk reported is the filesystem holding this path (the node's state directory). */
  diskPath: string;
  /** Where /proc is; tests point it at fixtures. */
  procDir?: string;
}

/** Reads a node's metrics; keeps the last CPU sample, so each reading covers the time since the last. */
export class HostMetricsReader {
  private previousCpu: CpuSample = { idle: 0, total: 0 };
  private readonly procDir: string;

  constructor(private readonly options: HostMetricsReaderOptions) {
    this.procDir = options.procDir ?? '/proc';
  }

  async read(): Promise<HostMetrics> {
    const proc = (name: string) => readFile(path.join(this.procDir, name), 'utf8');
    const [stat, meminfo, loadavg, uptime, disk] = await Promise.all([
      proc('stat'),
      proc('meminfo'),
      proc('loadavg'),
      proc('uptime'),
      statfs(this.options.diskPath),
    ]);
    const cpu = parseCpuSample(stat);
    const busy = cpuPercent(this.previousCpu, cpu);
    this.previousCpu = cpu;
    return {
      cpuPercent: busy,
      ...parseMeminfo(meminfo),
      // As df counts it: blocks not free, whether or not reserved for root.
      diskUsedBytes: (disk.blocks - disk.bfree) * disk.bsize,
      diskTotalBytes: disk.blocks * disk.bsize,
      ...parseLoadavg(loadavg),
      uptimeSeconds: parseUptime(uptime),
    };
  }
}
