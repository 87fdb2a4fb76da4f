// The contract every health probe and monitor check honours: it answers `{ ok, detail }`
// within its timeout and never throws, so a monitor can run it forever without guarding each
// kind. Below both the agent's probes and the hub's checks, which share it.
import { describeError } from '../system/network-errors.ts';

export interface ProbeResult {
  ok: boolean;
  /** Short human text for status and alerts: `HTTP 503`, `connection refused`, … */
  detail: string;
}

export interface ProbeOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** 2000 → "2s", 1500 → "1.5s", 250 → "250ms". */
export function formatDuration(ms: number): string {
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}

/** What a deadline of `ms` passing reads as. */
export function timedOutAfter(ms: number): string {
  return `timed out after ${formatDuration(ms)}`;
}

const TIMED_OUT = Symbol('timed out');

/**
 * Runs one attempt under the probe's deadline. On timeout or cancel the attempt's signal
 * aborts (so it can close its socket or kill its process) and the result says why, without
 * waiting for the attempt to wind down: a deadline is a promise to the monitor.
 */
export function runProbe<R extends ProbeResult>(
  { timeoutMs, signal }: ProbeOptions,
  attempt: (signal: AbortSignal) => Promise<R>,
): Promise<R | ProbeResult> {
  const controller = new AbortController();
  return new Promise((resolve) => {
    const finish = (result: R | ProbeResult) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', cancel);
      resolve(result);
    };
    const abort = (reason: unknown, detail: string) => {
      controller.abort(reason);
      finish({ ok: false, detail });
    };
    const cancel = () => abort(signal?.reason, 'cancelled');
    const timer = setTimeout(() => abort(TIMED_OUT, timedOutAfter(timeoutMs)), timeoutMs);
    if (signal?.aborted) return cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    attempt(controller.signal).then(finish, (error: unknown) =>
      finish({ ok: false, detail: describeError(error) }),
    );
  });
}
