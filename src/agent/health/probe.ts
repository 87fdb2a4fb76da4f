// The contract every health probe honours: it answers `{ ok, detail }` within its timeout
// and never throws, so a monitor can run it forever without guarding each kind.

export interface ProbeResult {
  ok: boolean;
  /** Short human text for status and alerts: `HTTP 503`, `connection refused`, … */
  detail: string;
}

/** One check of one instance; `signal` cancels it early (the monitor stopping). */
export type Probe = (signal?: AbortSignal) => Promise<ProbeResult>;

export interface ProbeOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Every probe targets its own node's instances. */
export const PROBE_HOST = '127.0.0.1';

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed',
};

export function describeError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NETWORK_ERRORS[code] !== undefined) return NETWORK_ERRORS[code];
  return error instanceof Error ? error.message : String(error);
}

/** 2000 → "2s", 1500 → "1.5s", 250 → "250ms". */
export function formatDuration(ms: number): string {
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}

const TIMED_OUT = Symbol('timed out');

/**
 * Runs one attempt under the probe's deadline. On timeout or cancel the attempt's signal
 * aborts (so it can close its socket or kill its process) and the result says why, without
 * waiting for the attempt to wind down: a deadline is a promise to the monitor.
 */
export function runProbe(
  { timeoutMs, signal }: ProbeOptions,
  attempt: (signal: AbortSignal) => Promise<ProbeResult>,
): Promise<ProbeResult> {
  const controller = new AbortController();
  return new Promise<ProbeResult>((resolve) => {
    const finish = (result: ProbeResult) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', cancel);
      resolve(result);
    };
    const abort = (reason: unknown, detail: string) => {
      controller.abort(reason);
      finish({ ok: false, detail });
    };
    const cancel = () => abort(signal?.reason, 'cancelled');
    const timer = setTimeout(
      () => abort(TIMED_OUT, `timed out after ${formatDuration(timeoutMs)}`),
      timeoutMs,
    );
    if (signal?.aborted) return cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    attempt(controller.signal).then(finish, (error: unknown) =>
      finish({ ok: false, detail: describeError(error) }),
    );
  });
}
