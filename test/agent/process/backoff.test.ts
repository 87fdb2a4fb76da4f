// The restart delays follow PM2's exponential backoff with the spec's defaults.
import { describe, expect, it } from 'vitest';
import { DEFAULT_RESTART_TIMING, RestartBackoff } from '../../../src/agent/process/backoff.ts';

describe('RestartBackoff', () => {
  it('starts at 100 ms, grows ×1.5 per restart and stops growing at 15 s', () => {
    const backoff = new RestartBackoff(DEFAULT_RESTART_TIMING);
    const delays = Array.from({ length: 16 }, () => backoff.nextDelay());
    expect(delays.slice(0, 4)).toEqual([100, 150, 225, 337.5]);
    for (let index = 1; index < delays.length; index++) {
      const expected = Math.min(delays[index - 1]! * 1.5, 15_000);
      expect(delays[index]).toBeCloseTo(expected);
    }
    expect(delays.at(-1)).toBe(15_000);
  });

  it('starts over after a reset', () => {
    const backoff = new RestartBackoff(DEFAULT_RESTART_TIMING);
    backoff.nextDelay();
    backoff.nextDelay();
    backoff.reset();
    expect(backoff.nextDelay()).toBe(100);
  });

  it('has the spec defaults: reset after 30 s up, failed after 16 starts shorter than 1 s', () => {
    expect(DEFAULT_RESTART_TIMING).toMatchObject({
      resetAfterMs: 30_000,
      minUptimeMs: 1_000,
      maxUnstableStarts: 16,
    });
  });
});
