// One-line charts for terminals (`flotilla monitors`): latency as ▁▂▃▄▅▆▇█ and the status
// history, where a failed check and a gap read differently from a fast or slow one, so a
// table without colours still shows when a monitor was down.
import type { RecentResult } from './uptime-stats.ts';

const LEVELS = '▁▂▃▄▅▆▇█';
export const FAILED_MARK = '×';
export const NO_DATA_MARK = ' ';
const STATUS_MARKS: Record<RecentResult['status'], string> = {
  up: '█',
  down: FAILED_MARK,
  maintenance: '░',
};

/** The last `width` entries, with no-data marks in front when there are fewer. */
function lastColumns<T>(values: readonly T[], width: number, mark: (value: T) => string): string {
  const columns = Math.max(0, Math.floor(width));
  const shown = columns === 0 ? [] : values.slice(-columns);
  return NO_DATA_MARK.repeat(columns - shown.length) + shown.map(mark).join('');
}

/**
 * The last `width` values, newest on the right, as bars from 0 to the largest shown:
 * null is a failed check (×), undefined (or NaN, ∞) no data (a space).
 */
export function sparkline(values: readonly (number | null | undefined)[], width: number): string {
  const shown = values.slice(-Math.max(1, Math.floor(width)));
  const max = Math.max(
    0,
    ...shown.filter(
      (value): value is number => typeof value === 'number' && Number.isFinite(value) && value > 0,
    ),
  );
  return lastColumns(values, width, (value) => {
    if (value === null) return FAILED_MARK;
    if (value === undefined || !Number.isFinite(value)) return NO_DATA_MARK;
    if (max === 0 || value <= 0) return LEVELS[0]!;
    return LEVELS[Math.min(LEVELS.length - 1, Math.floor((value / max) * LEVELS.length))]!;
  });
}

/** The status history: █ up, × down, ░ maintenance, a space where there is no result. */
export function upDownLine(results: readonly RecentResult[], width = results.length): string {
  return lastColumns(results, width, (result) => STATUS_MARKS[result.status]);
}

/** Latency of the last results: × for a failed check, a space when none was measured. */
export function latencyLine(results: readonly RecentResult[], width = results.length): string {
  return sparkline(
    results.map((result) => (result.status === 'down' ? null : result.latencyMs)),
    width,
  );
}
