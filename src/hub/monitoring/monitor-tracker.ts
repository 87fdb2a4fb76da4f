// One monitor's state and the alerts it calls for, from its check results: pending before
// `retries` failures in a row, one `down` and one `up` (with the duration) per incident,
// reminders while down, one `flapping` alert and then quiet until it settles, silence in
// maintenance. These are the rules Uptime Kuma and Healthchecks users ask for; they live
// here, pure and clock-free (every input carries its time), so the hub only delivers the
// decisions, and the state survives a hub restart through `snapshot`/`restore`.
import { z } from 'zod';
import type { CheckResult } from '../../monitoring/checks/check-result.ts';
import { durationMs } from '../../spec/formats.ts';
import type { Monitoring } from '../../spec/schema.ts';

export const MONITOR_STATUSES = ['unknown', 'up', 'pending', 'down', 'maintenance'] as const;
export type MonitorStatus = (typeof MONITOR_STATUSES)[number];

/** One check's result (`detail`: what a person reads), and when it ran, ms since the epoch. */
export type CheckOutcome = CheckResult & { at: number };

export interface TrackerPolicy {
  /** Failed checks in a row before the monitor is down (1: the first failure). */
  retries: number;
  /** While down, alert again this long after the last alert; none when undefined. */
  resendMs?: number;
  /** `changes` up↔down changes within `windowMs` make the monitor flap. */
  flapping: { changes: number; windowMs: number };
}

/** The policy the stack file sets: `monitoring:`, with a monitor's own `retries` if any. */
export function trackerPolicy(monitoring: Monitoring, retries = monitoring.retries): TrackerPolicy {
  return {
    retries,
    ...(monitoring.resend === undefined ? {} : { resendMs: durationMs(monitoring.resend) }),
    flapping: {
      changes: monitoring.flapping.changes,
      windowMs: durationMs(monitoring.flapping.window),
    },
  };
}

export const incidentSchema = z.object({
  /** Stable across restarts: the monitor's name and the first failed check's time. */
  id: z.string(),
  /** The first failed check of the outage, ms since the epoch. */
  since: z.number(),
  /** The detail of the check that made the monitor down. */
  error: z.string(),
});
export type Incident = z.infer<typeof incidentSchema>;

/** What the hub keeps in the bus per monitor and reads back after a restart. */
export const trackerSnapshotSchema = z.object({
  status: z.enum(MONITOR_STATUSES),
  /** When the current status began; undefined while unknown. */
  since: z.number().optional(),
  /** The last check's time and detail. */
  checkedAt: z.number().optional(),
  detail: z.string().optional(),
  lastOkAt: z.number().optional(),
  /** Failed checks in a row outside maintenance, and the first of them. */
  failures: z.number().int().min(0),
  firstFailure: z.object({ at: z.number(), detail: z.string() }).optional(),
  /** The ongoing outage, announced or not (flapping, maintenance). */
  incident: incidentSchema.optional(),
  /** The last alert sent for this monitor, the start of the reminder interval. */
  lastAlertAt: z.number().optional(),
  /** Times of the up↔down changes within the flapping window. */
  changes: z.array(z.number()),
  /** Set while flapping: the `flapping` alert was sent, the next is `settled`. */
  flappingSince: z.number().optional(),
});
export type TrackerSnapshot = z.infer<typeof trackerSnapshotSchema>;

interface AlertBase {
  monitor: string;
  /** The time of the check that decided it. */
  at: number;
  /** That check's detail: the last error text while failing. */
  detail: string;
}

export type AlertDecision = AlertBase &
  (
    | { kind: 'down'; incident: Incident }
    /** durationMs: from the first failed check to this recovery. */
    | { kind: 'up'; incident: Incident; durationMs: number }
    /** durationMs: down for this long so far. */
    | { kind: 'reminder'; incident: Incident; durationMs: number }
    /** `changes` up↔down changes within `windowMs`; quiet until `settled`. */
    | {
        kind: 'flapping';
        status: 'up' | 'down';
        changes: number;
        windowMs: number;
        incident?: Incident;
      }
    /** Stayed `status` for a whole flapping window; an open incident continues. */
    | { kind: 'settled'; status: 'up' | 'down'; incident?: Incident }
  );

export interface MonitorTrackerOptions {
  /** The monitor's name, as alerts and incident ids carry it. */
  monitor: string;
  policy: TrackerPolicy;
}

function initialState(): TrackerSnapshot {
  return { status: 'unknown', failures: 0, changes: [] };
}

export class MonitorTracker {
  private constructor(
    private readonly options: MonitorTrackerOptions,
    private state: TrackerSnapshot,
  ) {}

  static create(options: MonitorTrackerOptions): MonitorTracker {
    return new MonitorTracker(options, initialState());
  }

  /**
   * A tracker continuing from a saved snapshot (an ongoing incident stays announced), or
   * undefined when `saved` is not one (damaged or from another version): start afresh.
   */
  static restore(options: MonitorTrackerOptions, saved: unknown): MonitorTracker | undefined {
    const parsed = trackerSnapshotSchema.safeParse(saved);
    return parsed.success ? new MonitorTracker(options, parsed.data) : undefined;
  }

  snapshot(): TrackerSnapshot {
    return structuredClone(this.state);
  }

  /** The current status, since when, the last detail, failures in a row, the incident. */
  get current(): Readonly<TrackerSnapshot> {
    return this.snapshot();
  }

  /** Judge one check result; `inMaintenance`: the monitor is in a window at `outcome.at`. */
  observe(outcome: CheckOutcome, inMaintenance = false): AlertDecision[] {
    const state = this.state;
    state.checkedAt = outcome.at;
    state.detail = outcome.detail;
    if (outcome.ok) state.lastOkAt = outcome.at;
    if (inMaintenance) {
      this.enterMaintenance(outcome.at);
      return [];
    }
    // Reminders for an outage that outlasted the window count from the window's end.
    if (state.status === 'maintenance' && state.incident) state.lastAlertAt = outcome.at;
    return outcome.ok ? this.succeeded(outcome) : this.failed(outcome);
  }

  /** A maintenance window began (with or without a check): quiet, failures forgotten. */
  enterMaintenance(at: number): void {
    this.state.failures = 0;
    delete this.state.firstFailure;
    this.setStatus('maintenance', at);
  }

  private succeeded(outcome: CheckOutcome): AlertDecision[] {
    const state = this.state;
    state.failures = 0;
    delete state.firstFailure;
    this.setStatus('up', outcome.at);
    const incident = state.incident;
    if (!incident) return this.settle(outcome);
    delete state.incident;
    return this.changed(outcome, true, {
      ...this.base(outcome),
      kind: 'up',
      incident,
      durationMs: outcome.at - incident.since,
    });
  }

  private failed(outcome: CheckOutcome): AlertDecision[] {
    const state = this.state;
    state.failures += 1;
    state.firstFailure ??= { at: outcome.at, detail: outcome.detail };
    if (state.incident) {
      this.setStatus('down', outcome.at);
      const settled = this.settle(outcome);
      return settled.length > 0 ? settled : this.remind(outcome, state.incident);
    }
    if (state.failures < this.options.policy.retries) {
      this.setStatus('pending', outcome.at);
      return [];
    }
    const since = state.firstFailure.at;
    const incident = {
      id: `${this.options.monitor}@${new Date(since).toISOString()}`,
      since,
      error: outcome.detail,
    };
    state.incident = incident;
    this.setStatus('down', outcome.at);
    // Down from the very first checks is an outage, not a change of state.
    const counted = state.lastOkAt !== undefined;
    return this.changed(outcome, counted, { ...this.base(outcome), kind: 'down', incident });
  }

  /**
   * An up↔down change: its alert, or the one `flapping` alert when this change makes the
   * monitor flap, or nothing while it already does.
   */
  private changed(outcome: CheckOutcome, counted: boolean, alert: AlertDecision): AlertDecision[] {
    const state = this.state;
    const { changes, windowMs } = this.options.policy.flapping;
    state.changes = this.recentChanges(outcome.at);
    if (counted) state.changes.push(outcome.at);
    if (state.flappingSince !== undefined) return [];
    state.lastAlertAt = outcome.at;
    if (state.changes.length < changes) return [alert];
    state.flappingSince = outcome.at;
    return [
      {
        ...this.base(outcome),
        kind: 'flapping',
        status: state.incident ? 'down' : 'up',
        changes: state.changes.length,
        windowMs,
        ...(state.incident ? { incident: state.incident } : {}),
      },
    ];
  }

  /** While flapping: `settled` once no change happened for a whole flapping window. */
  private settle(outcome: CheckOutcome): AlertDecision[] {
    const state = this.state;
    if (state.flappingSince === undefined) return [];
    state.changes = this.recentChanges(outcome.at);
    if (state.changes.length > 0) return [];
    delete state.flappingSince;
    state.lastAlertAt = outcome.at;
    return [
      {
        ...this.base(outcome),
        kind: 'settled',
        status: state.incident ? 'down' : 'up',
        ...(state.incident ? { incident: state.incident } : {}),
      },
    ];
  }

  private remind(outcome: CheckOutcome, incident: Incident): AlertDecision[] {
    const state = this.state;
    const { resendMs } = this.options.policy;
    if (resendMs === undefined || state.flappingSince !== undefined) return [];
    if (outcome.at - (state.lastAlertAt ?? incident.since) < resendMs) return [];
    state.lastAlertAt = outcome.at;
    return [
      {
        ...this.base(outcome),
        kind: 'reminder',
        incident,
        durationMs: outcome.at - incident.since,
      },
    ];
  }

  /** The changes still inside the flapping window ending at `at`. */
  private recentChanges(at: number): number[] {
    const from = at - this.options.policy.flapping.windowMs;
    return this.state.changes.filter((time) => time > from);
  }

  private setStatus(status: MonitorStatus, at: number): void {
    if (this.state.status === status) return;
    this.state.status = status;
    this.state.since = at;
  }

  private base(outcome: CheckOutcome): AlertBase {
    return { monitor: this.options.monitor, at: outcome.at, detail: outcome.detail };
  }
}
