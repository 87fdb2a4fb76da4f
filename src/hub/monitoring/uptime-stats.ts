// A monitor's history, small enough for one NATS KV value (under 16 KB for 30 days at a
// 30 s interval, tested): checks up/down per hour for 30 days, latency histograms per hour
// for the last 24 hours (log-scale buckets, never raw samples), and the last results for
// sparklines. Uptime over 24 h / 7 d / 30 d and latency percentiles are read from it, so
// the bus is the only database (issue 14). Pure: every call takes the time.
import { z } from 'zod';
import type { CheckOutcome } from './monitor-tracker.ts';

const HOUR_MS = 3_600_000;
const HOURS_KEPT = 30 * 24;
const LATENCY_HOURS_KEPT = 24;
export const RECENT_KEPT = 60;

/**
 * Latency bucket k ≥ 1 holds [R^(k-1), R^k) ms and reads as its geometric middle
 * R^(k-½); bucket 0 holds [0, 1) ms and reads as 0.5 ms. So a percentile of latencies of
 * 1 ms or more is within a factor R^½ of the true sample at that rank: at most 9.1 % off.
 */
const BUCKET_RATIO = 2 ** (1 / 4);
export const LATENCY_RELATIVE_ERROR = Math.sqrt(BUCKET_RATIO) - 1;

const count = z.number().int().nonnegative();

export const recentResultSchema = z.object({
  at: z.number(),
  status: z.enum(['up', 'down', 'maintenance']),
  latencyMs: z.number().nonnegative().optional(),
});
export type RecentResult = z.infer<typeof recentResultSchema>;

/** The stored form: hourly series ending at hour number `hour` (ms / 1 h since the epoch). */
export const uptimeStatsSchema = z
  .object({
    version: z.literal(1),
    hour: z.number().int(),
    /** Checks per hour, oldest first; the last entry is `hour`. */
    up: z.array(count).max(HOURS_KEPT),
    down: z.array(count).max(HOURS_KEPT),
    /** Checks in a maintenance window: in neither up nor down. */
    maintenance: z.array(count).max(HOURS_KEPT),
    /**
     * Latency histograms of the successful checks, one per hour for the last hours (the
     * last is `hour`): [first bucket, its count, the next bucket's count, …], or [] for none.
     */
    latency: z.array(z.array(count)).max(LATENCY_HOURS_KEPT),
    recent: z.array(recentResultSchema).max(RECENT_KEPT),
  })
  .refine((stats) => stats.down.length === stats.up.length, 'up and down differ in length')
  .refine(
    (stats) => stats.maintenance.length === stats.up.length,
    'up and maintenance differ in length',
  );
export type UptimeStats = z.infer<typeof uptimeStatsSchema>;

export function emptyUptimeStats(): UptimeStats {
  return { version: 1, hour: 0, up: [], down: [], maintenance: [], latency: [], recent: [] };
}

/** Add `hours` new hours to a series (at its end, or its start for `before`), keeping `kept`. */
function grow<T>(series: T[], hours: number, kept: number, fill: () => T, before = false): void {
  const added = Array.from({ length: Math.min(Math.max(hours, 0), kept) }, fill);
  if (before) series.unshift(...added);
  else series.push(...added);
  if (series.length > kept) series.splice(0, series.length - kept);
}

/**
 * Make the series reach `hour`: forward (dropping what falls out of 30 days, 24 hours for
 * latency), or back for a late result still inside them.
 */
function cover(stats: UptimeStats, hour: number): void {
  if (stats.up.length === 0) stats.hour = hour - 1;
  const ahead = hour - stats.hour;
  const age = -ahead;
  for (const series of [stats.up, stats.down, stats.maintenance]) {
    grow(series, ahead, HOURS_KEPT, () => 0);
    if (age < HOURS_KEPT) grow(series, age + 1 - series.length, HOURS_KEPT, () => 0, true);
  }
  grow(stats.latency, ahead, LATENCY_HOURS_KEPT, (): number[] => []);
  if (age < LATENCY_HOURS_KEPT)
    grow(stats.latency, age + 1 - stats.latency.length, LATENCY_HOURS_KEPT, () => [], true);
  stats.hour = Math.max(stats.hour, hour);
}

function bucketOf(latencyMs: number): number {
  if (latencyMs < 1) return 0;
  return Math.floor(Math.log(latencyMs) / Math.log(BUCKET_RATIO)) + 1;
}

function bucketValue(bucket: number): number {
  return bucket === 0 ? 0.5 : BUCKET_RATIO ** (bucket - 0.5);
}

function addToHistogram(histogram: number[], bucket: number): void {
  if (histogram.length === 0) {
    histogram.push(bucket, 1);
    return;
  }
  const first = histogram[0]!;
  if (bucket < first) {
    histogram.splice(1, 0, ...new Array<number>(first - bucket).fill(0));
    histogram[0] = bucket;
  }
  const index = 1 + bucket - histogram[0]!;
  while (histogram.length <= index) histogram.push(0);
  histogram[index]! += 1;
}

/**
 * Count one check (in place; returns `stats`). A result older than the kept history
 * changes nothing; a maintenance check counts apart from up and down, with no latency.
 */
export function record(
  stats: UptimeStats,
  outcome: CheckOutcome,
  inMaintenance = false,
): UptimeStats {
  const hour = Math.floor(outcome.at / HOUR_MS);
  cover(stats, hour);
  const age = stats.hour - hour;
  if (age >= stats.up.length) return stats;
  const status = inMaintenance ? 'maintenance' : outcome.ok ? 'up' : 'down';
  const index = stats.up.length - 1 - age;
  stats[status][index]! += 1;
  const latencyIndex = stats.latency.length - 1 - age;
  if (status === 'up' && outcome.latencyMs !== undefined && latencyIndex >= 0)
    addToHistogram(stats.latency[latencyIndex]!, bucketOf(outcome.latencyMs));
  stats.recent.push({
    at: outcome.at,
    status,
    ...(outcome.latencyMs === undefined ? {} : { latencyMs: outcome.latencyMs }),
  });
  if (stats.recent.length > RECENT_KEPT) stats.recent.splice(0, stats.recent.length - RECENT_KEPT);
  return stats;
}

/**
 * The share of checks that were up among those up or down in the `windowMs` before `now`
 * (maintenance left out), from 0 to 1; undefined without any. The oldest hour, partly
 * inside the window, counts for the part that is.
 */
export function uptime(stats: UptimeStats, windowMs: number, now: number): number | undefined {
  const from = now - windowMs;
  let up = 0;
  let total = 0;
  stats.up.forEach((upCount, index) => {
    const start = (stats.hour - (stats.up.length - 1 - index)) * HOUR_MS;
    if (start > now) return;
    const share = Math.min(1, Math.max(0, (start + HOUR_MS - from) / HOUR_MS));
    up += share * upCount;
    total += share * (upCount + stats.down[index]!);
  });
  return total > 0 ? up / total : undefined;
}

export interface LatencyPercentiles {
  p50: number;
  p95: number;
  p99: number;
  /** The successful checks they are drawn from. */
  count: number;
}

/**
 * p50/p95/p99 of the successful checks' latencies in the hour of `now` and the 23 before, in ms,
 * each within LATENCY_RELATIVE_ERROR of the true sample at that rank (latencies under 1 ms
 * read as 0.5); undefined without any.
 */
export function latencyPercentiles(
  stats: UptimeStats,
  now: number,
): LatencyPercentiles | undefined {
  const nowHour = Math.floor(now / HOUR_MS);
  const counts = new Map<number, number>();
  stats.latency.forEach((histogram, index) => {
    const hour = stats.hour - (stats.latency.length - 1 - index);
    if (hour > nowHour || hour <= nowHour - LATENCY_HOURS_KEPT || histogram.length === 0) return;
    const first = histogram[0]!;
    for (let i = 1; i < histogram.length; i++)
      counts.set(first + i - 1, (counts.get(first + i - 1) ?? 0) + histogram[i]!);
  });
  const buckets = [...counts].sort(([a], [b]) => a - b);
  const total = buckets.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return undefined;
  // Nearest rank: the smallest latency with at least q of the samples at or below it.
  const at = (q: number) => {
    const rank = Math.max(1, Math.ceil(q * total));
    let seen = 0;
    const [bucket] = buckets.find(([, n]) => (seen += n) >= rank)!;
    return bucketValue(bucket);
  };
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), count: total };
}

/** The last results, oldest first, for sparklines and the status history. */
export function recent(stats: UptimeStats): RecentResult[] {
  return stats.recent.map((result) => ({ ...result }));
}
