// A monitor's stored history: uptime per window from hourly counts (maintenance left out),
// latency percentiles from the histograms within their stated error, pruning, the last
// results, and the size of 30 days at a 30 s interval as the bus would store it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  emptyUptimeStats,
  LATENCY_RELATIVE_ERROR,
  latencyPercentiles,
  recent,
  record,
  RECENT_KEPT,
  uptime,
  uptimeStatsSchema,
  type UptimeStats,
} from '../../../src/hub/monitoring/uptime-stats.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const INTERVAL = 30_000;
const NOW = Date.parse('2026-03-31T00:00:00Z'); // on an hour boundary

/** `count` checks every 30 s, the last just before `end`. */
function checks(
  stats: UptimeStats,
  end: number,
  count: number,
  ok: boolean,
  options: { latencyMs?: number; maintenance?: boolean } = {},
) {
  for (let i = count; i >= 1; i--) {
    const at = end - i * INTERVAL;
    const latency = options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs };
    record(
      stats,
      { ok, detail: ok ? 'HTTP 200' : 'HTTP 500', at, ...latency },
      options.maintenance,
    );
  }
  return stats;
}

describe('uptime', () => {
  it('is undefined without data', () => {
    expect(uptime(emptyUptimeStats(), DAY, NOW)).toBeUndefined();
    expect(latencyPercentiles(emptyUptimeStats(), NOW)).toBeUndefined();
    expect(recent(emptyUptimeStats())).toEqual([]);
  });

  it('is the share of checks up, maintenance left out', () => {
    const stats = emptyUptimeStats();
    checks(stats, NOW, 90, true);
    checks(stats, NOW - HOUR, 30, false);
    checks(stats, NOW - 2 * HOUR, 100, false, { maintenance: true });
    expect(uptime(stats, DAY, NOW)).toBe(0.75);
  });

  it('is undefined when every check was in maintenance', () => {
    const stats = checks(emptyUptimeStats(), NOW, 10, false, { maintenance: true });
    expect(uptime(stats, DAY, NOW)).toBeUndefined();
  });

  it('looks back 24 hours, 7 days or 30 days', () => {
    const stats = emptyUptimeStats();
    checks(stats, NOW - 20 * DAY, 120, false); // an hour down 20 days ago
    checks(stats, NOW - 3 * DAY, 120, false); // an hour down 3 days ago
    for (let day = 0; day < 30; day++) checks(stats, NOW - day * DAY, 120 * 23, true);
    expect(uptime(stats, DAY, NOW)).toBe(1);
    expect(uptime(stats, 7 * DAY, NOW)).toBeCloseTo((7 * 23) / (7 * 23 + 1), 12);
    expect(uptime(stats, 30 * DAY, NOW)).toBeCloseTo((30 * 23) / (30 * 23 + 2), 12);
  });

  it('counts the oldest hour for the part of it inside the window', () => {
    const stats = emptyUptimeStats();
    checks(stats, NOW - HOUR, 10, false); // spread over the end of the hour 22:00-23:00
    checks(stats, NOW - HOUR / 2, 10, true); // in 23:00-00:00
    // From 22:30: half of the hour 22:00 counts (5 down), all of 23:00 (10 up).
    expect(uptime(stats, HOUR + HOUR / 2, NOW)).toBeCloseTo(10 / 15, 12);
  });

  it('ignores hours after `now`', () => {
    const stats = checks(emptyUptimeStats(), NOW + 2 * HOUR, 10, false);
    checks(stats, NOW, 10, true);
    expect(uptime(stats, DAY, NOW)).toBe(1);
  });
});

describe('pruning', () => {
  it('keeps 30 days of hours and 24 hours of latency, dropping older ones on record', () => {
    const stats = emptyUptimeStats();
    checks(stats, NOW - 40 * DAY, 10, false, { latencyMs: 5 });
    checks(stats, NOW, 10, true, { latencyMs: 5 });
    expect(stats.up).toHaveLength(30 * 24);
    expect(stats.latency).toHaveLength(24);
    expect(stats.down.reduce((a, b) => a + b, 0)).toBe(0);
    expect(uptime(stats, 30 * DAY, NOW)).toBe(1);
  });

  it('ignores a result older than the kept history', () => {
    const stats = checks(emptyUptimeStats(), NOW, 10, true);
    const before = structuredClone(stats);
    record(stats, { ok: false, detail: 'late', at: NOW - 31 * DAY });
    expect(stats).toEqual(before);
  });

  it('counts a result that arrives late into its own hour', () => {
    const stats = checks(emptyUptimeStats(), NOW, 10, true);
    record(stats, { ok: false, detail: 'late', at: NOW - 5 * HOUR });
    expect(stats.down.at(-5)).toBe(1); // 19:00, four hours before 23:00
    expect(uptime(stats, 2 * HOUR, NOW)).toBe(1);
    expect(uptime(stats, 6 * HOUR, NOW)).toBeCloseTo(10 / 11, 12);
  });
});

describe('latency percentiles', () => {
  /** The sample at a nearest rank, as the percentiles are defined. */
  const trueRank = (sorted: number[], q: number) =>
    sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;

  it('reads p50/p95/p99 of the current hour and the 23 before, within the stated error', () => {
    const stats = emptyUptimeStats();
    const latencies = Array.from({ length: 1000 }, (_, i) => i + 1);
    latencies.forEach((latencyMs, i) =>
      record(stats, { ok: true, detail: '', latencyMs, at: NOW - 23 * HOUR + i * 60_000 }),
    );
    const result = latencyPercentiles(stats, NOW)!;
    expect(result.count).toBe(1000);
    for (const [value, truth] of [
      [result.p50, 500],
      [result.p95, 950],
      [result.p99, 990],
    ] as const)
      expect(Math.abs(value - truth) / truth).toBeLessThanOrEqual(LATENCY_RELATIVE_ERROR);
    expect(LATENCY_RELATIVE_ERROR).toBeLessThan(0.091);
  });

  it('leaves out failed and maintenance checks, and hours older than 24', () => {
    const stats = emptyUptimeStats();
    checks(stats, NOW - 25 * HOUR, 100, true, { latencyMs: 9000 });
    checks(stats, NOW, 10, false, { latencyMs: 9000 });
    checks(stats, NOW, 10, true, { latencyMs: 9000, maintenance: true });
    checks(stats, NOW, 10, true, { latencyMs: 20 });
    const result = latencyPercentiles(stats, NOW)!;
    expect(result.count).toBe(10);
    expect(result.p99).toBeGreaterThan(20 / (1 + LATENCY_RELATIVE_ERROR));
    expect(result.p99).toBeLessThan(20 * (1 + LATENCY_RELATIVE_ERROR));
    // Two days later the histogram hours have gone out of the last 24.
    expect(latencyPercentiles(stats, NOW + 2 * DAY)).toBeUndefined();
  });

  it('holds the error bound for any latencies (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1, max: 120_000, noNaN: true }), {
          minLength: 1,
          maxLength: 500,
        }),
        (latencies) => {
          const stats = emptyUptimeStats();
          latencies.forEach((latencyMs, i) =>
            record(stats, { ok: true, detail: '', latencyMs, at: NOW - HOUR + i }),
          );
          const sorted = [...latencies].sort((a, b) => a - b);
          const result = latencyPercentiles(stats, NOW)!;
          for (const [value, q] of [
            [result.p50, 0.5],
            [result.p95, 0.95],
            [result.p99, 0.99],
          ] as const) {
            const truth = trueRank(sorted, q);
            expect(Math.abs(value - truth) / truth).toBeLessThanOrEqual(
              LATENCY_RELATIVE_ERROR + 1e-9,
            );
          }
        },
      ),
      { seed: 0x16, numRuns: 200 },
    );
  });

  it('reads sub-millisecond latencies as half a millisecond', () => {
    const stats = checks(emptyUptimeStats(), NOW, 10, true, { latencyMs: 0.2 });
    expect(latencyPercentiles(stats, NOW)).toEqual({ p50: 0.5, p95: 0.5, p99: 0.5, count: 10 });
  });
});

describe('recent results', () => {
  it(`keeps the last ${RECENT_KEPT}, oldest first, as copies`, () => {
    const stats = emptyUptimeStats();
    checks(stats, NOW - HOUR, 100, true, { latencyMs: 12 });
    checks(stats, NOW, 1, false);
    checks(stats, NOW + INTERVAL, 1, true, { maintenance: true });
    const results = recent(stats);
    expect(results).toHaveLength(RECENT_KEPT);
    expect(results.at(-1)).toEqual({ at: NOW, status: 'maintenance' });
    expect(results.at(-2)).toEqual({ at: NOW - INTERVAL, status: 'down' });
    expect(results.at(-3)).toEqual({ at: NOW - HOUR - INTERVAL, status: 'up', latencyMs: 12 });
    results[0]!.status = 'down';
    expect(recent(stats)[0]!.status).toBe('up');
  });
});

describe('the stored form', () => {
  /** A small deterministic generator, so one fast-check seed drives 86,400 checks. */
  function random(seed: number) {
    let state = seed >>> 0 || 1;
    return () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 2 ** 32;
    };
  }

  it('stays under 16 KB after 30 days at a 30 s interval, and reads back the same', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.double({ min: 0, max: 1, noNaN: true }), // share of failed checks
        fc.double({ min: 0, max: 5, noNaN: true }), // latency spread, decades
        (seed, failures, spread) => {
          const next = random(seed);
          const stats = emptyUptimeStats();
          const start = NOW - 30 * DAY;
          for (let at = start; at < NOW; at += INTERVAL) {
            const latencyMs = 10 ** (next() * spread) * (1 + next() * 50);
            record(stats, { ok: next() >= failures, detail: '', latencyMs, at }, next() < 0.02);
          }
          const stored = JSON.stringify(stats);
          expect(stored.length).toBeLessThan(16 * 1024);
          expect(uptimeStatsSchema.parse(JSON.parse(stored))).toEqual(stats);
        },
      ),
      { seed: 0x17, numRuns: 4 },
    );
  });

  it('refuses series of different lengths', () => {
    const stats = checks(emptyUptimeStats(), NOW, 3, true);
    expect(uptimeStatsSchema.safeParse({ ...stats, down: [] }).success).toBe(false);
    expect(uptimeStatsSchema.safeParse(stats).success).toBe(true);
  });
});
