// Host metrics: the /proc parsers on fixture text (as a 2-CPU machine writes it), the reader
// on a fixture /proc (CPU between two readings), and one sanity read of this machine's.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cpuPercent,
  HostMetricsError,
  HostMetricsReader,
  parseCpuSample,
  parseLoadavg,
  parseMeminfo,
  parseUptime,
} from '../../src/system/host-metrics.ts';

const STAT = (user: number, idle: number) =>
  [
    `cpu  ${user} 10 200 ${idle} 50 0 40 0 7 0`,
    'cpu0 1000 5 100 4000 25 0 20 0 0 0',
    'intr 12345 0 0',
    'ctxt 99',
  ].join('\n');

const MEMINFO = [
  'MemTotal:        2000000 kB',
  'MemFree:          300000 kB',
  'MemAvailable:    1500000 kB',
  'Buffers:           10000 kB',
].join('\n');

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-host-metrics-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the /proc parsers', () => {
  it('reads the aggregate cpu line: idle with iowait, guest not counted twice', () => {
    expect(parseCpuSample(STAT(2000, 8000))).toEqual({
      idle: 8050,
      total: 2000 + 10 + 200 + 8000 + 50 + 40,
    });
    expect(() => parseCpuSample('intr 1 2 3')).toThrow(HostMetricsError);
  });

  it('takes the busy share between two samples', () => {
    const before = parseCpuSample(STAT(2000, 8000));
    const after = parseCpuSample(STAT(2300, 8100));
    expect(cpuPercent(before, after)).toBe(75);
    expect(cpuPercent(after, after)).toBe(0);
  });

  it('counts used memory as total minus available', () => {
    expect(parseMeminfo(MEMINFO)).toEqual({
      memoryTotalBytes: 2_000_000 * 1024,
      memoryUsedBytes: 500_000 * 1024,
    });
    expect(() => parseMeminfo('MemTotal: 1 kB')).toThrow(/no MemAvailable/);
  });

  it('reads the loads and the uptime', () => {
    expect(parseLoadavg('0.52 1.25 2.00 3/412 12345\n')).toEqual({
      load1: 0.52,
      load5: 1.25,
      load15: 2,
    });
    expect(parseUptime('55919.20 40172.94\n')).toBe(55919);
    expect(() => parseLoadavg('oops')).toThrow(HostMetricsError);
  });
});

describe('HostMetricsReader', () => {
  it('reports CPU since the previous reading, from a fixture /proc', async () => {
    const proc = path.join(dir, 'proc');
    await mkdir(proc);
    await writeFile(path.join(proc, 'meminfo'), MEMINFO);
    await writeFile(path.join(proc, 'loadavg'), '0.10 0.20 0.30 1/100 42\n');
    await writeFile(path.join(proc, 'uptime'), '120.50 200.00\n');
    await writeFile(path.join(proc, 'stat'), STAT(2000, 8000));
    const reader = new HostMetricsReader({ diskPath: dir, procDir: proc });
    const first = await reader.read();
    await writeFile(path.join(proc, 'stat'), STAT(2100, 8300));
    const second = await reader.read();
    expect(second.cpuPercent).toBe(25);
    // The first reading covers the time since boot: 2250 busy of 10300 jiffies.
    expect(first.cpuPercent).toBe(21.8);
    expect(second).toMatchObject({
      memoryUsedBytes: 500_000 * 1024,
      load1: 0.1,
      load15: 0.3,
      uptimeSeconds: 120,
    });
  });

  it("reads this machine's /proc and the disk of a path", async () => {
    const metrics = await new HostMetricsReader({ diskPath: dir }).read();
    expect(metrics.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(metrics.cpuPercent).toBeLessThanOrEqual(100);
    expect(metrics.memoryTotalBytes).toBe(os.totalmem());
    expect(metrics.memoryUsedBytes).toBeGreaterThan(0);
    expect(metrics.memoryUsedBytes).toBeLessThan(metrics.memoryTotalBytes);
    expect(metrics.diskTotalBytes).toBeGreaterThan(0);
    expect(metrics.diskUsedBytes).toBeLessThanOrEqual(metrics.diskTotalBytes);
    expect(metrics.uptimeSeconds).toBeGreaterThan(0);
    expect(metrics.load1).toBeGreaterThanOrEqual(0);
  });
});
