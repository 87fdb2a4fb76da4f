// The monitor state machine, driven by check results with their times (no clock, no
// sleeps): retries before down, one down and one up per incident, reminders, flapping,
// maintenance, a restart in the middle of an incident, and properties over random runs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MonitorTracker,
  trackerPolicy,
  type AlertDecision,
  type TrackerPolicy,
} from '../../../src/hub/monitoring/monitor-tracker.ts';
import { stackSchema } from '../../../src/spec/schema.ts';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const INTERVAL = 30_000;
const MIN = 60_000;
const QUIET_FLAPPING = { changes: 1000, windowMs: 30 * MIN };

/** A tracker and a way to feed it one check per interval; `tick` is the check's number. */
function monitor(policy: Partial<TrackerPolicy> = {}) {
  const tracker = MonitorTracker.create({
    monitor: 'api',
    policy: { retries: 3, flapping: QUIET_FLAPPING, ...policy },
  });
  let tick = 0;
  const check = (ok: boolean, options: { maintenance?: boolean; detail?: string } = {}) =>
    tracker.observe(
      { ok, detail: options.detail ?? (ok ? 'HTTP 200' : `HTTP 502 #${tick}`), at: at(tick++) },
      options.maintenance ?? false,
    );
  /** Several checks with the same result; every alert they produced, in order. */
  const checks = (count: number, ok: boolean, options: { maintenance?: boolean } = {}) =>
    Array.from({ length: count }, () => check(ok, options)).flat();
  return { tracker, check, checks, next: () => tick };
}

const at = (tick: number) => T0 + tick * INTERVAL;
const kinds = (alerts: AlertDecision[]) => alerts.map((alert) => alert.kind);

describe('retries', () => {
  it('is unknown before the first result, then up with no alert', () => {
    const { tracker, check } = monitor();
    expect(tracker.current.status).toBe('unknown');
    expect(check(true)).toEqual([]);
    expect(tracker.current).toMatchObject({ status: 'up', since: at(0), detail: 'HTTP 200' });
  });

  it('is pending until `retries` failures in a row, then down once', () => {
    const { tracker, check } = monitor({ retries: 3 });
    check(true);
    expect(check(false)).toEqual([]);
    expect(tracker.current).toMatchObject({ status: 'pending', failures: 1, since: at(1) });
    expect(check(false)).toEqual([]);
    expect(tracker.current).toMatchObject({ status: 'pending', failures: 2, since: at(1) });
    const alerts = check(false, { detail: 'connection refused' });
    expect(alerts).toEqual([
      {
        kind: 'down',
        monitor: 'api',
        at: at(3),
        detail: 'connection refused',
        incident: {
          id: `api@${new Date(at(1)).toISOString()}`,
          since: at(1),
          error: 'connection refused',
        },
      },
    ]);
    expect(tracker.current).toMatchObject({ status: 'down', failures: 3, since: at(3) });
    expect(tracker.current.incident?.since).toBe(at(1));
  });

  it('with retries 1, the first failure is down', () => {
    const { tracker, check } = monitor({ retries: 1 });
    check(true);
    expect(kinds(check(false))).toEqual(['down']);
    expect(tracker.current.status).toBe('down');
  });

  it('is down from the very first checks when they fail', () => {
    const { check, checks } = monitor({ retries: 2 });
    expect(check(false)).toEqual([]);
    expect(kinds(check(false))).toEqual(['down']);
    expect(checks(3, false)).toEqual([]);
  });

  it('returns from pending to up with no alert, and counts failures afresh', () => {
    const { tracker, check, checks } = monitor({ retries: 3 });
    check(true);
    expect(checks(2, false)).toEqual([]);
    expect(check(true)).toEqual([]);
    expect(tracker.current).toMatchObject({ status: 'up', failures: 0, since: at(3) });
    expect(tracker.current.incident).toBeUndefined();
    expect(checks(2, false)).toEqual([]);
    expect(tracker.current.status).toBe('pending');
    expect(kinds(check(false))).toEqual(['down']);
  });
});

describe('one incident per outage', () => {
  it('sends one down and one up, with the duration since the first failed check', () => {
    const { tracker, check, checks } = monitor({ retries: 2 });
    check(true);
    const down = checks(10, false);
    expect(kinds(down)).toEqual(['down']);
    const up = check(true);
    expect(up).toEqual([
      {
        kind: 'up',
        monitor: 'api',
        at: at(11),
        detail: 'HTTP 200',
        incident: down[0]!.kind === 'down' ? down[0]!.incident : undefined,
        durationMs: at(11) - at(1),
      },
    ]);
    expect(checks(5, true)).toEqual([]);
    expect(tracker.current.incident).toBeUndefined();
  });

  it('gives the next outage a new incident', () => {
    const { check, checks } = monitor({ retries: 1 });
    check(true);
    const [first] = check(false);
    check(true);
    const [second] = checks(2, false);
    expect(first?.kind).toBe('down');
    expect(second?.kind).toBe('down');
    const id = (alert: AlertDecision | undefined) =>
      alert && 'incident' in alert ? alert.incident?.id : undefined;
    expect(id(second)).not.toBe(id(first));
  });
});

describe('reminders', () => {
  it('repeats every `resend` while down, counted from the last alert', () => {
    const { check, checks } = monitor({ retries: 1, resendMs: 5 * MIN });
    check(true);
    expect(kinds(check(false))).toEqual(['down']); // tick 1
    const alerts = checks(40, false); // ticks 2..41: 20 minutes more
    expect(kinds(alerts)).toEqual(['reminder', 'reminder', 'reminder', 'reminder']);
    expect(alerts.map((alert) => alert.at)).toEqual([at(11), at(21), at(31), at(41)]);
    expect(alerts[0]).toMatchObject({ durationMs: 5 * MIN });
    expect(kinds(check(true))).toEqual(['up']);
  });

  it('sends none when resend is unset', () => {
    const { check, checks } = monitor({ retries: 1 });
    check(false);
    expect(checks(200, false)).toEqual([]);
  });
});

describe('flapping', () => {
  const flapping = { changes: 4, windowMs: 10 * MIN };

  it('sends one flapping alert, stays quiet, then settles up once', () => {
    const { tracker, check, checks } = monitor({ retries: 1, flapping });
    check(true);
    expect(kinds(check(false))).toEqual(['down']); // change 1
    expect(kinds(check(true))).toEqual(['up']); // 2
    expect(kinds(check(false))).toEqual(['down']); // 3
    const flap = check(true); // 4: flapping instead of up
    expect(flap).toEqual([
      expect.objectContaining({ kind: 'flapping', status: 'up', changes: 4, windowMs: 10 * MIN }),
    ]);
    // More changes: no down, no up.
    for (let i = 0; i < 6; i++) expect(check(i % 2 === 1)).toEqual([]);
    expect(tracker.current.status).toBe('up');
    const lastChange = at(10);
    // Up for a whole window since the last change: settled, once.
    const quiet = checks(19, true); // ticks 11..29: 9.5 minutes after the last change
    expect(quiet).toEqual([]);
    const settled = check(true); // tick 30: 10 minutes after
    expect(settled).toEqual([
      expect.objectContaining({ kind: 'settled', status: 'up', at: lastChange + 10 * MIN }),
    ]);
    expect(settled[0]).not.toHaveProperty('incident');
    expect(checks(20, true)).toEqual([]);
    // Back to normal: a failure is a down again.
    expect(kinds(check(false))).toEqual(['down']);
  });

  it('settles down with the open incident, whose recovery then sends up', () => {
    const { check, checks } = monitor({ retries: 1, flapping, resendMs: 10 * MIN });
    check(true);
    checks(1, false);
    check(true);
    checks(1, false);
    expect(kinds(check(true))).toEqual(['flapping']);
    check(false); // tick 5: down again, silently; its incident begins here
    const quiet = checks(19, false); // ticks 6..24
    expect(quiet).toEqual([]);
    const [settled] = check(false); // tick 25: 10 minutes after the last change
    expect(settled).toMatchObject({
      kind: 'settled',
      status: 'down',
      incident: { since: at(5) },
    });
    // Reminders resume, counted from the settled alert.
    const reminders = checks(31, false); // ticks 26..56
    expect(reminders.map((alert) => [alert.kind, alert.at])).toEqual([['reminder', at(45)]]);
    const [up] = check(true);
    expect(up).toMatchObject({
      kind: 'up',
      incident: { since: at(5) },
      durationMs: at(57) - at(5),
    });
  });

  it('counts only changes inside the window', () => {
    // Six changes, never four of them within 10 minutes (20 checks): no flapping.
    const { check, checks } = monitor({ retries: 1, flapping });
    check(true);
    const alerts = [
      ...check(false),
      ...checks(25, true),
      ...check(false),
      ...checks(25, true),
      ...check(false),
      ...checks(25, true),
    ];
    expect(kinds(alerts)).toEqual(['down', 'up', 'down', 'up', 'down', 'up']);
  });
});

describe('maintenance', () => {
  it('is quiet, and failures in it do not count toward retries', () => {
    const { tracker, check, checks } = monitor({ retries: 3, resendMs: MIN });
    check(true);
    check(false); // pending, 1 failure
    expect(checks(10, false, { maintenance: true })).toEqual([]);
    expect(tracker.current).toMatchObject({ status: 'maintenance', failures: 0, since: at(2) });
    // The window ends while checks fail: the normal retries from then.
    expect(checks(2, false)).toEqual([]);
    expect(tracker.current.status).toBe('pending');
    expect(kinds(check(false))).toEqual(['down']);
  });

  it('sends up after the window when the monitor was down before it', () => {
    const { tracker, check, checks } = monitor({ retries: 1, resendMs: MIN });
    check(true);
    const [down] = check(false);
    expect(checks(20, false, { maintenance: true })).toEqual([]); // no reminders
    expect(checks(2, true, { maintenance: true })).toEqual([]);
    expect(tracker.current.status).toBe('maintenance');
    const [up] = check(true);
    expect(up).toMatchObject({
      kind: 'up',
      incident: down?.kind === 'down' ? down.incident : {},
      durationMs: at(24) - at(1),
    });
  });

  it('continues an outage that outlasts the window, reminders counted from its end', () => {
    const { tracker, check, checks } = monitor({ retries: 3, resendMs: 2 * MIN });
    check(true);
    expect(kinds(checks(3, false))).toEqual(['down']);
    checks(10, false, { maintenance: true });
    // Ticks 14..: no second down; the first reminder 2 minutes after the window ended.
    const alerts = checks(5, false);
    expect(tracker.current.status).toBe('down');
    expect(alerts.map((alert) => [alert.kind, alert.at])).toEqual([['reminder', at(18)]]);
  });

  it('can be entered without a check', () => {
    const { tracker, check } = monitor();
    check(true);
    tracker.enterMaintenance(at(5));
    expect(tracker.current).toMatchObject({ status: 'maintenance', since: at(5) });
  });
});

describe('restart', () => {
  it('continues an ongoing incident from its snapshot: no second down', () => {
    const first = monitor({ retries: 2 });
    first.check(true);
    const [down] = first.checks(3, false);
    const saved = JSON.parse(JSON.stringify(first.tracker.snapshot())) as unknown;
    const restored = MonitorTracker.restore(
      { monitor: 'api', policy: { retries: 2, flapping: QUIET_FLAPPING } },
      saved,
    )!;
    expect(restored.current).toEqual(first.tracker.current);
    expect(restored.observe({ ok: false, detail: 'still', at: at(4) })).toEqual([]);
    const [up] = restored.observe({ ok: true, detail: 'HTTP 200', at: at(5) });
    expect(up).toMatchObject({
      kind: 'up',
      incident: down?.kind === 'down' ? down.incident : {},
      durationMs: at(5) - at(1),
    });
  });

  it('keeps failures in a row across a restart', () => {
    const first = monitor({ retries: 3 });
    first.check(true);
    first.checks(2, false);
    const restored = MonitorTracker.restore(
      { monitor: 'api', policy: { retries: 3, flapping: QUIET_FLAPPING } },
      first.tracker.snapshot(),
    )!;
    expect(kinds(restored.observe({ ok: false, detail: 'x', at: at(3) }))).toEqual(['down']);
  });

  it('refuses what is not a snapshot', () => {
    const options = { monitor: 'api', policy: { retries: 3, flapping: QUIET_FLAPPING } };
    expect(MonitorTracker.restore(options, { status: 'sideways' })).toBeUndefined();
    expect(MonitorTracker.restore(options, 'garbage')).toBeUndefined();
  });

  it('hands out copies: changing a snapshot changes nothing', () => {
    const { tracker, check } = monitor();
    check(true);
    const snapshot = tracker.snapshot();
    snapshot.status = 'down';
    snapshot.changes.push(1);
    expect(tracker.current.status).toBe('up');
    expect(tracker.current.changes).toEqual([]);
  });
});

describe('policy from the stack file', () => {
  const monitoring = (declared: object) =>
    stackSchema.parse({ name: 'demo', monitoring: declared }).monitoring;

  it('takes the defaults: 3 retries, no resend, 6 changes in 30 minutes', () => {
    // A monitor without retries of its own passes undefined.
    expect(trackerPolicy(monitoring({}), undefined)).toEqual({
      retries: 3,
      flapping: { changes: 6, windowMs: 30 * MIN },
    });
  });

  it("reads resend and flapping, and a monitor's own retries", () => {
    const declared = monitoring({ resend: '1h', flapping: { changes: 3, window: '10m' } });
    expect(trackerPolicy(declared, 5)).toEqual({
      retries: 5,
      resendMs: 60 * MIN,
      flapping: { changes: 3, windowMs: 10 * MIN },
    });
  });
});

describe('properties over random runs', () => {
  const runs = fc.array(fc.boolean(), { maxLength: 300 });

  it('without flapping or maintenance: alternating down/up, one each per incident', () => {
    fc.assert(
      fc.property(runs, fc.integer({ min: 1, max: 5 }), (results, retries) => {
        const { check } = monitor({ retries });
        const alerts = results.flatMap((ok) => check(ok));
        // The model: an incident is a run of at least `retries` failures.
        const expected: { since: number; end?: number }[] = [];
        let runStart = -1;
        results.forEach((ok, tick) => {
          if (!ok && runStart < 0) runStart = tick;
          if (!ok && tick - runStart + 1 === retries) expected.push({ since: at(runStart) });
          if (ok) {
            if (runStart >= 0 && tick - runStart >= retries) expected.at(-1)!.end = at(tick);
            runStart = -1;
          }
        });
        const actual: { since: number; end?: number }[] = [];
        for (const alert of alerts) {
          if (alert.kind === 'down') actual.push({ since: alert.incident.since });
          else if (alert.kind === 'up') {
            const open = actual.at(-1)!;
            expect(open.end).toBeUndefined();
            expect(alert.incident.since).toBe(open.since);
            expect(alert.durationMs).toBe(alert.at - open.since);
            open.end = alert.at;
          } else throw new Error(`unexpected ${alert.kind}`);
        }
        expect(actual).toEqual(expected);
      }),
      { seed: 0x14, numRuns: 300 },
    );
  });

  it('with everything on: quiet in maintenance and while flapping, reminders spaced', () => {
    // Stretches of equal results, short (flapping) or long (settling, reminders), one
    // stretch in eight in maintenance.
    const stretch = fc.record({
      ok: fc.boolean(),
      count: fc.oneof(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 10, max: 30 })),
      maintenance: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
    });
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.array(stretch, { maxLength: 40 }), (stretches) => {
        const steps = stretches.flatMap(({ count, ...step }) =>
          Array<typeof step>(count).fill(step),
        );
        const resendMs = 3 * MIN;
        const { check } = monitor({
          retries: 2,
          resendMs,
          flapping: { changes: 4, windowMs: 5 * MIN },
        });
        let flapping = false;
        let lastAlertAt = -Infinity;
        for (const { ok, maintenance } of steps) {
          const alerts = check(ok, { maintenance });
          expect(alerts.length).toBeLessThanOrEqual(1);
          const alert = alerts[0];
          if (!alert) continue;
          expect(maintenance).toBe(false);
          if (flapping) expect(alert.kind).toBe('settled');
          else expect(alert.kind).not.toBe('settled');
          if (alert.kind === 'reminder')
            expect(alert.at - lastAlertAt).toBeGreaterThanOrEqual(resendMs);
          seen.add(alert.kind);
          if (alert.kind === 'flapping') flapping = true;
          if (alert.kind === 'settled') flapping = false;
          lastAlertAt = alert.at;
        }
      }),
      { seed: 0x15, numRuns: 200 },
    );
    // The runs reached every kind of alert, so the checks above were not vacuous.
    expect([...seen].sort()).toEqual(['down', 'flapping', 'reminder', 'settled', 'up']);
  });
});
