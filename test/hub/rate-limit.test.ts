// The hub's per-key rate limiter, on the test's clock: a key gets `count` requests per
// window, refilled smoothly; keys are independent; the table stays bounded, forgetting keys
// whose budget is whole again before any that is spent.
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/hub/rate-limit.ts';

const MINUTE = 60_000;

describe('RateLimiter', () => {
  it('takes `count` per window, then refuses until the clock refills it', () => {
    const limiter = new RateLimiter({ count: 3, windowMs: MINUTE });
    expect([0, 0, 0, 0].map((at) => limiter.take('a', at))).toEqual([true, true, true, false]);
    expect(limiter.take('b', 0)).toBe(true);
    expect(limiter.allows('a', 19_999)).toBe(false);
    expect(limiter.take('a', 20_000)).toBe(true); // a third of the window: one request back
    expect(limiter.take('a', 20_000)).toBe(false);
    expect(limiter.allows('a', 10 * MINUTE)).toBe(true);
    // No more than `count` is saved up, however long the key was quiet.
    expect([1, 2, 3, 4].map(() => limiter.take('a', 10 * MINUTE))).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });

  it('allows() takes nothing', () => {
    const limiter = new RateLimiter({ count: 1, windowMs: MINUTE });
    expect(limiter.allows('a', 0)).toBe(true);
    expect(limiter.allows('a', 0)).toBe(true);
    expect(limiter.take('a', 0)).toBe(true);
    expect(limiter.allows('a', 0)).toBe(false);
  });

  it('forgets keys with a whole budget first, then the least recently used', () => {
    const limiter = new RateLimiter({ count: 1, windowMs: MINUTE }, 2);
    limiter.take('refilled', 0);
    limiter.take('spent', 50_000);
    expect(limiter.allows('refilled', 55_000)).toBe(false); // now the most recently used
    // At 60 s 'refilled' is whole again, 'spent' is not: a third key makes room by
    // forgetting 'refilled', though 'spent' was used less recently; 'spent' stays refused.
    limiter.take('newcomer', MINUTE);
    expect(limiter.take('spent', MINUTE)).toBe(false);
    // With every budget spent, the least recently used key goes ('newcomer': 'spent' was
    // just asked for): the table never grows, and a forgotten key starts whole again.
    limiter.take('another', MINUTE);
    expect(limiter.take('another', MINUTE)).toBe(false);
    expect(limiter.take('newcomer', MINUTE)).toBe(true);
  });
});
