// PM2-style exponential restart backoff: the first restart waits `initialDelayMs`, each
// consecutive one `factor` times longer up to `maxDelayMs`; a process that stayed up for
// `resetAfterMs` starts the sequence over.

export interface RestartTiming {
  initialDelayMs: number;
  factor: number;
  maxDelayMs: number;
  /** Uptime after which the next restart is quick again. */
  resetAfterMs: number;
  /** A process that dies sooner than this after starting was an unstable start. */
  minUptimeMs: number;
  /** Unstable starts in a row after which the instance is failed and left alone. */
  maxUnstableStarts: number;
}

export const DEFAULT_RESTART_TIMING: RestartTiming = {
  initialDelayMs: 100,
  factor: 1.5,
  maxDelayMs: 15_000,
  resetAfterMs: 30_000,
  minUptimeMs: 1_000,
  maxUnstableStarts: 16,
};

export class RestartBackoff {
  private upcoming: number;

  constructor(private readonly timing: RestartTiming) {
    this.upcoming = timing.initialDelayMs;
  }

  /** The delay before this restart; the following one will wait longer. */
  nextDelay(): number {
    const delay = this.upcoming;
    this.upcoming = Math.min(delay * this.timing.factor, this.timing.maxDelayMs);
    return delay;
  }

  reset(): void {
    this.upcoming = this.timing.initialDelayMs;
  }
}
