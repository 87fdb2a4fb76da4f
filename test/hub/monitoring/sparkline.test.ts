// Terminal charts: bars scaled to the largest value shown, distinct marks for a failed
// check and for no data, the newest on the right, exactly `width` columns.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { latencyLine, sparkline, upDownLine } from '../../../src/hub/monitoring/sparkline.ts';
import type { RecentResult } from '../../../src/hub/monitoring/uptime-stats.ts';

describe('sparkline', () => {
  it('scales bars from 0 to the largest value shown', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7, 8], 9)).toBe('▁▂▃▄▅▆▇██');
    expect(sparkline([10, 10, 10], 3)).toBe('███');
    expect(sparkline([0, 0], 2)).toBe('▁▁');
  });

  it('marks a failed check with × and no data with a space', () => {
    expect(sparkline([8, null, undefined, 4, Number.NaN, Infinity], 6)).toBe('█× ▅  ');
  });

  it('shows the newest values on the right, padded with no data in front', () => {
    expect(sparkline([8, 4], 5)).toBe('   █▅');
    // Scaled to what is shown: the 100 that scrolled out does not flatten the rest.
    expect(sparkline([100, 8, 4, 2], 3)).toBe('█▅▃');
  });

  it('is always `width` columns', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double(), fc.constant(null), fc.constant(undefined))),
        fc.integer({ min: 0, max: 80 }),
        (values, width) => {
          expect([...sparkline(values, width)]).toHaveLength(width);
        },
      ),
      { seed: 0x18, numRuns: 300 },
    );
  });
});

describe('status history', () => {
  const results: RecentResult[] = [
    { at: 1, status: 'up', latencyMs: 10 },
    { at: 2, status: 'down', latencyMs: 5000 },
    { at: 3, status: 'maintenance' },
    { at: 4, status: 'up', latencyMs: 20 },
  ];

  it('reads up, down and maintenance apart', () => {
    expect(upDownLine(results)).toBe('█×░█');
    expect(upDownLine(results, 6)).toBe('  █×░█');
    expect(upDownLine(results, 2)).toBe('░█');
    expect(upDownLine([], 3)).toBe('   ');
  });

  it('draws latency, failed checks as ×, unmeasured ones as a space', () => {
    // The failed check's 5 s (a timeout) neither shows nor scales the rest.
    expect(latencyLine(results)).toBe('▅× █');
  });
});
