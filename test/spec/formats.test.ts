import { describe, expect, it } from 'vitest';
import { cronError, explainBadCidr, parseCidr, parseDuration } from '../../src/spec/formats.ts';

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '5', '5 s', 's', '5sec', '-1s'])('%j is not a duration', (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );
});

describe('CIDRs', () => {
  it('parses networks and bare addresses', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ network: 0x0a000000, prefix: 8, size: 2 ** 24 });
    expect(parseCidr('203.0.113.7')).toEqual({ network: 0xcb007107, prefix: 32, size: 1 });
  });

  it.each(['10.0.0.1/8', '256.0.0.0/8', '10.0.0.0/33', '10.0.0/8', 'x'])('rejects %s', (text) => {
    expect(parseCidr(text)).toBeUndefined();
  });

  it('names the network when host bits are set', () => {
    expect(explainBadCidr('192.168.1.5/24')).toContain('192.168.1.0/24');
  });
});

describe('cron', () => {
  it('accepts 5 and 6 field expressions', () => {
    expect(cronError('0 2 * * *')).toBeUndefined();
    expect(cronError('*/15 * * * * *')).toBeUndefined();
  });

  it('explains what is wrong', () => {
    expect(cronError('0 2 * *')).toContain('has 4');
    expect(cronError('0 24 * * *')).toContain('0-23');
  });
});
