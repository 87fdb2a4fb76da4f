// Turns a probe into a health state: probes every interval (never two at once), flips to
// healthy after `healthyThreshold` passes in a row and back after `unhealthyThreshold`
// failures in a row, and reports each flip the moment it happens. A new instance starts
// unhealthy: it has to prove itself before the gateway sends it traffic.
import type { HealthCheck } from '../../spec/schema.ts';
import { checkTiming, healthProbe, type CheckTarget } from './check.ts';
import type { ProbeResult } from '../../monitoring/deadline.ts';
import { describeError } from '../../system/network-errors.ts';
import type { Probe } from './probe.ts';

export interface HealthState {
  healthy: boolean;
  /** The latest probe's detail (or why there is none yet). */
  detail: string;
  /** When `healthy` last changed (or monitoring began). */
  since: Date;
}

export interface HealthMonitorOptions {
  probe: Probe;
  intervalMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  /** Called on every transition, never for a probe that changes nothing. */
  onTransition: (state: HealthState) => void;
}

export class HealthMonitor {
  private state: HealthState = { healthy: false, detail: 'not checked yet', since: new Date() };
  private passes = 0;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Aborts the probe in flight; set exactly while one runs. */
  private inFlight: AbortController | undefined;
  private latency: number | undefined;
  private rerun = false;
  private started = false;
  private stopped = false;

  constructor(private readonly options: HealthMonitorOptions) {}

  get current(): HealthState {
    return { ...this.state };
  }

  /** Probes at once (an adopted instance may already be healthy), then every interval. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.probe();
  }

  /** Probes now instead of at the next tick; during a probe, runs another right after it. */
  checkNow(): void {
    if (!this.started || this.stopped) return;
    if (this.inFlight) this.rerun = true;
    else this.probe();
  }

  /** No more probes and no more callbacks; a probe in flight is cancelled. */
  /** How long the latest probe took (ms), for the node's metrics; undefined before one. */
  get latencyMs(): number | undefined {
    return this.latency;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.inFlight?.abort();
  }

  private probe(): void {
    clearTimeout(this.timer);
    const controller = new AbortController();
    this.inFlight = controller;
    const startedAt = Date.now();
    // Probes promise never to throw; a custom one that does still must not stall the loop.
    const outcome = this.options
      .probe(controller.signal)
      .catch((error: unknown): ProbeResult => ({ ok: false, detail: describeError(error) }));
    void outcome.then((result) => {
      this.inFlight = undefined;
      if (this.stopped) return;
      this.latency = Date.now() - startedAt;
      this.record(result);
      if (this.stopped) return;
      if (this.rerun) {
        this.rerun = false;
        this.probe();
        return;
      }
      // Keep the cadence from probe start to probe start; a slow probe delays the next.
      const wait = Math.max(0, this.options.intervalMs - (Date.now() - startedAt));
      this.timer = setTimeout(() => this.probe(), wait);
    });
  }

  private record(result: ProbeResult): void {
    if (result.ok) {
      this.passes += 1;
      this.failures = 0;
    } else {
      this.failures += 1;
      this.passes = 0;
    }
    const flips = this.state.healthy
      ? this.failures >= this.options.unhealthyThreshold
      : this.passes >= this.options.healthyThreshold;
    if (!flips) {
      this.state.detail = result.detail;
      return;
    }
    this.state = { healthy: result.ok, detail: result.detail, since: new Date() };
    this.options.onTransition({ ...this.state });
  }
}

/** A started monitor for one instance's `health:` block. */
export function monitorHealth(
  check: HealthCheck,
  target: CheckTarget,
  onTransition: (state: HealthState) => void,
): HealthMonitor {
  const { intervalMs, healthyThreshold, unhealthyThreshold } = checkTiming(check);
  const monitor = new HealthMonitor({
    probe: healthProbe(check, target),
    intervalMs,
    healthyThreshold,
    unhealthyThreshold,
    onTransition,
  });
  monitor.start();
  return monitor;
}
