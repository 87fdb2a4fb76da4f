// What follows an exit under the restart policy, for a supervisor: restart after the
// backoff's delay (backoff.ts, shared with native processes), give up after too many
// unstable starts in a row (failed), or leave it exited.
import { RestartBackoff, type RestartTiming } from '../../process/backoff.ts';
import type { RestartPolicy } from '../supervisor.ts';

export type ExitOutcome =
  | { kind: 'exited' }
  | { kind: 'failed'; unstableStarts: number }
  | { kind: 'restart'; delayMs: number };

export class RestartTracker {
  private readonly backoff: RestartBackoff;
  unstableStarts = 0;

  constructor(
    private readonly timing: RestartTiming,
    private readonly policy: RestartPolicy,
  ) {
    this.backoff = new RestartBackoff(timing);
  }

  /** A fresh start (not a restart): the sequence begins again. */
  reset(): void {
    this.unstableStarts = 0;
    this.backoff.reset();
  }

  /** `code` null: unknown or a start that failed, counted as a failure. */
  onExit(uptimeMs: number, code: number | null): ExitOutcome {
    if (uptimeMs >= this.timing.resetAfterMs) this.backoff.reset();
    this.unstableStarts = uptimeMs < this.timing.minUptimeMs ? this.unstableStarts + 1 : 0;
    const restart = this.policy === 'always' || (this.policy === 'on-failure' && code !== 0);
    if (!restart) return { kind: 'exited' };
    if (this.unstableStarts >= this.timing.maxUnstableStarts)
      return { kind: 'failed', unstableStarts: this.unstableStarts };
    return { kind: 'restart', delayMs: this.backoff.nextDelay() };
  }
}
