// The monitor's state machine with scripted probes on fake timers: thresholds, one event
// per transition, no overlapping probes, checkNow and stop.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HealthMonitor, type HealthState } from '../../../src/agent/health/monitor.ts';
import type { ProbeResult } from '../../../src/monitoring/deadline.ts';

const PASS: ProbeResult = { ok: true, detail: 'HTTP 200' };
const FAIL: ProbeResult = { ok: false, detail: 'HTTP 503' };

/** A probe that answers from a script (the last answer repeats) and counts its runs. */
function scripted(answers: ProbeResult[], delayMs = 0) {
  const calls = { started: 0, running: 0, maxRunning: 0, aborted: 0 };
  const probe = async (signal?: AbortSignal): Promise<ProbeResult> => {
    const answer = answers[Math.min(calls.started, answers.length - 1)]!;
    calls.started += 1;
    calls.running += 1;
    calls.maxRunning = Math.max(calls.maxRunning, calls.running);
    signal?.addEventListener('abort', () => (calls.aborted += 1));
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    calls.running -= 1;
    return answer;
  };
  return { probe, calls };
}

function monitor(
  probe: (signal?: AbortSignal) => Promise<ProbeResult>,
  thresholds: { healthy?: number; unhealthy?: number } = {},
) {
  const transitions: HealthState[] = [];
  const health = new HealthMonitor({
    probe,
    intervalMs: 1000,
    healthyThreshold: thresholds.healthy ?? 1,
    unhealthyThreshold: thresholds.unhealthy ?? 1,
    onTransition: (state) => transitions.push(state),
  });
  return { health, transitions };
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('HealthMonitor', () => {
  it('keeps how long its latest probe took, for the node metrics', async () => {
    const { probe } = scripted([PASS], 120);
    const { health } = monitor(probe);
    expect(health.latencyMs).toBeUndefined();
    health.start();
    await vi.advanceTimersByTimeAsync(130);
    expect(health.latencyMs).toBe(120);
    health.stop();
  });

  it('starts unhealthy and reports nothing until something changes', async () => {
    const { probe } = scripted([FAIL]);
    const { health, transitions } = monitor(probe);
    expect(health.current).toMatchObject({ healthy: false, detail: 'not checked yet' });
    health.start();
    await vi.advanceTimersByTimeAsync(5000);
    expect(transitions).toEqual([]);
    expect(health.current).toMatchObject({ healthy: false, detail: 'HTTP 503' });
    health.stop();
  });

  it('probes at once on start, then every interval', async () => {
    const { probe, calls } = scripted([PASS]);
    const { health } = monitor(probe);
    health.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.started).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls.started).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.started).toBe(2);
    await vi.advanceTimersByTimeAsync(3000);
    expect(calls.started).toBe(5);
    health.stop();
  });

  it('needs healthy_threshold passes in a row to turn healthy', async () => {
    const { probe } = scripted([PASS, FAIL, PASS, PASS, PASS]);
    const { health, transitions } = monitor(probe, { healthy: 2 });
    health.start();
    await vi.advanceTimersByTimeAsync(2000); // pass, fail, pass: the fail reset the count
    expect(transitions).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000); // second pass in a row
    expect(transitions).toEqual([
      { healthy: true, detail: 'HTTP 200', since: new Date('2026-01-01T00:00:03Z') },
    ]);
    await vi.advanceTimersByTimeAsync(3000); // more passes change nothing
    expect(transitions).toHaveLength(1);
    health.stop();
  });

  it('needs unhealthy_threshold failures in a row to turn unhealthy', async () => {
    const { probe } = scripted([PASS, FAIL, FAIL, PASS, FAIL, FAIL, FAIL]);
    const { health, transitions } = monitor(probe, { unhealthy: 3 });
    health.start();
    await vi.advanceTimersByTimeAsync(5000); // pass, fail, fail, pass, fail, fail
    expect(transitions.map((state) => state.healthy)).toEqual([true]);
    expect(health.current).toMatchObject({ healthy: true, detail: 'HTTP 503' });
    await vi.advanceTimersByTimeAsync(1000); // third failure in a row
    expect(transitions).toEqual([
      { healthy: true, detail: 'HTTP 200', since: new Date('2026-01-01T00:00:00Z') },
      { healthy: false, detail: 'HTTP 503', since: new Date('2026-01-01T00:00:06Z') },
    ]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(transitions).toHaveLength(2);
    health.stop();
  });

  it('reports a transition the moment the probe answers', async () => {
    const { probe } = scripted([FAIL, PASS], 300);
    const { health, transitions } = monitor(probe);
    health.start();
    await vi.advanceTimersByTimeAsync(1299); // second probe started at 1000, answers at 1300
    expect(transitions).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(transitions).toHaveLength(1);
    expect(transitions[0]?.since).toEqual(new Date('2026-01-01T00:00:01.300Z'));
    health.stop();
  });

  it('never overlaps probes: a slow one delays the next', async () => {
    const { probe, calls } = scripted([PASS], 2500);
    const { health } = monitor(probe);
    health.start();
    health.checkNow();
    await vi.advanceTimersByTimeAsync(2499);
    expect(calls).toMatchObject({ started: 1, running: 1 });
    await vi.advanceTimersByTimeAsync(1); // first answers; checkNow's probe follows at once
    expect(calls).toMatchObject({ started: 2, running: 1 });
    // Slower than the interval: the next starts as soon as this one answers (a tick later).
    await vi.advanceTimersByTimeAsync(2501);
    expect(calls.started).toBe(3);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls.maxRunning).toBe(1);
    health.stop();
  });

  it('checkNow probes at once instead of waiting for the interval', async () => {
    const { probe, calls } = scripted([FAIL, PASS]);
    const { health, transitions } = monitor(probe);
    health.start();
    await vi.advanceTimersByTimeAsync(100);
    health.checkNow();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.started).toBe(2);
    expect(transitions).toMatchObject([{ healthy: true }]);
    // The cadence restarts from the early probe.
    await vi.advanceTimersByTimeAsync(999);
    expect(calls.started).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.started).toBe(3);
    health.stop();
  });

  it('stop cancels the probe in flight and nothing runs or reports afterwards', async () => {
    const { probe, calls } = scripted([PASS], 500);
    const { health, transitions } = monitor(probe);
    health.start();
    await vi.advanceTimersByTimeAsync(100);
    health.stop();
    expect(calls.aborted).toBe(1);
    health.checkNow();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls.started).toBe(1);
    expect(transitions).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('counts a probe that throws as a failure and keeps going', async () => {
    let calls = 0;
    const { health, transitions } = monitor(async () => {
      calls += 1;
      if (calls === 2) throw new Error('boom');
      return PASS;
    });
    health.start();
    await vi.advanceTimersByTimeAsync(2000);
    expect(transitions.map(({ healthy, detail }) => ({ healthy, detail }))).toEqual([
      { healthy: true, detail: 'HTTP 200' },
      { healthy: false, detail: 'boom' },
      { healthy: true, detail: 'HTTP 200' },
    ]);
    health.stop();
  });
});
