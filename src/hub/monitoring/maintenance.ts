// Which maintenance windows are open at a given time, and for which monitors. A monitor in
// a window is quiet: its tracker shows `maintenance` and no alert starts or repeats. Pure:
// the hub passes the time, and asks `nextChange` when to look again instead of polling.
import type { MaintenanceWindow } from '../../spec/schema.ts';
import { durationMs, nextFireTime, previousFireTime } from '../../spec/formats.ts';

interface Span {
  start: number;
  end: number;
}

/**
 * The span of `window` that matters at `at`: a one-off window's own; for a recurring one,
 * the latest opening at or before `at` (a later opening always ends later, so an older
 * one can never be the one still open).
 */
function spanAt(window: MaintenanceWindow, at: number): Span {
  if (window.cron === undefined) {
    // The schema guarantees start and end for a one-off window.
    return { start: Date.parse(window.start!), end: Date.parse(window.end!) };
  }
  // The latest opening at or before `at`: one ms later lets an opening at `at` count.
  const start = previousFireTime(window.cron, window.timezone, at + 1);
  return { start, end: start + durationMs(window.duration!) };
}

function isOpen(window: MaintenanceWindow, at: number): boolean {
  const { start, end } = spanAt(window, at);
  return start <= at && at < end;
}

/** Whether `window` names `monitor`: exactly, by a prefix ending in `*`, or (empty) all. */
export function coversMonitor(window: MaintenanceWindow, monitor: string): boolean {
  if (window.monitors.length === 0) return true;
  return window.monitors.some((pattern) =>
    pattern.endsWith('*') ? monitor.startsWith(pattern.slice(0, -1)) : pattern === monitor,
  );
}

/** The windows open at `at` (ms since the epoch), for any monitor. */
export function activeWindows(windows: MaintenanceWindow[], at: number): MaintenanceWindow[] {
  return windows.filter((window) => isOpen(window, at));
}

/** Whether `monitor` is in an open maintenance window at `at`. */
export function inMaintenance(windows: MaintenanceWindow[], monitor: string, at: number): boolean {
  return windows.some((window) => coversMonitor(window, monitor) && isOpen(window, at));
}

/**
 * The earliest time after `at` when a window opens or closes, so the hub can wake then;
 * undefined when none ever will. It may be a time when nothing visibly changes (a recurring
 * window reopening before it closed), never later than a real change.
 */
export function nextChange(windows: MaintenanceWindow[], at: number): number | undefined {
  let next: number | undefined;
  const consider = (time: number) => {
    if (time > at && (next === undefined || time < next)) next = time;
  };
  for (const window of windows) {
    const span = spanAt(window, at);
    consider(span.start);
    consider(span.end);
    if (window.cron !== undefined) consider(nextFireTime(window.cron, window.timezone, at));
  }
  return next;
}
