import { describe, expect, it } from 'vitest';
import {
  canonicalCidr,
  canonicalIp,
  cronError,
  durationMs,
  explainBadCidr,
  explainBadIPv4,
  inetAton,
  ipAddressSchema,
  nextFireTime,
  parseCidr,
  parseDuration,
  parseIPv4,
  previousFireTime,
} from '../../src/spec/formats.ts';

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

  it('durationMs reads a validated duration and throws on one the schema should have refused', () => {
    expect(durationMs('1h30m')).toBe(5_400_000);
    expect(() => durationMs('5sec')).toThrow('not a duration: 5sec');
  });
});

describe('CIDRs', () => {
  it('parses networks and bare addresses', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ network: 0x0a000000, prefix: 8, size: 2 ** 24 });
    expect(parseCidr('203.0.113.7')).toEqual({ network: 0xcb007107, prefix: 32, size: 1 });
  });

  it.each([
    '10.0.0.1/8',
    '256.0.0.0/8',
    '10.0.0.0/33',
    '10.0.0/8',
    'x',
    '010.0.0.0/8',
    '10.0.0.0/08',
    '10.0.0.01',
  ])('rejects %s', (text) => {
    expect(parseCidr(text)).toBeUndefined();
    expect(canonicalCidr(text)).toBeUndefined();
  });

  it('names the network when host bits are set', () => {
    expect(explainBadCidr('192.168.1.5/24')).toContain('192.168.1.0/24');
  });

  it('says what a leading zero means and what to write', () => {
    expect(explainBadCidr('010.0.0.0/8')).toBe(
      'nft and the kernel read a leading 0 as octal, so 010.0.0.0 is 8.0.0.0 to them: write 10.0.0.0/8',
    );
    expect(explainBadCidr('100.096.0.0/16')).toBe(
      'leading zeros are not allowed: write 100.96.0.0/16',
    );
    expect(explainBadCidr('10.0.0.0/08')).toBe('leading zeros are not allowed: write 10.0.0.0/8');
  });

  it('writes a canonical network back as it was, a bare address stays bare', () => {
    expect(canonicalCidr('10.0.0.0/8')).toBe('10.0.0.0/8');
    expect(canonicalCidr('203.0.113.7')).toBe('203.0.113.7');
  });
});

describe('IP addresses', () => {
  it('parses only canonical dotted decimal', () => {
    expect(parseIPv4('10.0.0.1')).toBe(0x0a000001);
    expect(parseIPv4('0.0.0.0')).toBe(0);
    for (const text of ['010.0.0.1', '10.0.0.01', '10.1', '0x0a.0.0.1', '1.2.3.4.5', '1.2.3.256'])
      expect(parseIPv4(text), text).toBeUndefined();
  });

  it.each([
    ['010.0.0.1', '8.0.0.1'],
    ['192.0.2.010', '192.0.2.8'],
    ['10.1', '10.0.0.1'],
    ['0x0a000001', '10.0.0.1'],
    ['167772161', '10.0.0.1'],
    ['09.0.0.1', undefined],
    ['1.2.3.4.5', undefined],
    ['example', undefined],
  ])('libc reads %s as %s', (text, read) => expect(inetAton(text)).toBe(read));

  it('explains a non-canonical IPv4 address with the form to write', () => {
    expect(explainBadIPv4('010.0.0.1')).toBe(
      'nft and the kernel read a leading 0 as octal, so 010.0.0.1 is 8.0.0.1 to them: write 10.0.0.1',
    );
    expect(explainBadIPv4('09.0.0.1')).toBe('leading zeros are not allowed: write 9.0.0.1');
    expect(explainBadIPv4('10.1')).toBe('libc reads 10.1 as the address 10.0.0.1: write 10.0.0.1');
  });

  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['010.0.0.1', '10.0.0.1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0:0:0:0:0:1', '2001:db8::1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::1', '::1'],
    ['fe80::1%eth0', undefined],
    ['10.1', undefined],
    ['example.com', undefined],
  ])('the canonical form of %s is %s', (text, canonical) =>
    expect(canonicalIp(text)).toBe(canonical),
  );

  it('the IP address schema takes only canonical addresses, and says what to write', () => {
    expect(ipAddressSchema.safeParse('203.0.113.7').success).toBe(true);
    expect(ipAddressSchema.safeParse('2001:db8::1').success).toBe(true);
    const issue = (text: string) => ipAddressSchema.safeParse(text).error?.issues[0]?.message;
    expect(issue('010.0.0.1')).toContain('010.0.0.1 is 8.0.0.1 to them: write 10.0.0.1');
    expect(issue('2001:DB8::1')).toContain('write 2001:db8::1');
    expect(issue('::ffff:192.0.2.1')).toContain('write 192.0.2.1');
    expect(issue('db.example.com')).toContain('not an IP address');
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

  it('fire times are strictly after or before the time given, in the time zone', () => {
    const twoAmParis = Date.parse('2026-06-01T00:00:00Z'); // 02:00 in Paris (UTC+2 in June)
    expect(nextFireTime('0 2 * * *', 'Europe/Paris', twoAmParis - 1)).toBe(twoAmParis);
    expect(nextFireTime('0 2 * * *', 'Europe/Paris', twoAmParis)).toBe(twoAmParis + 86_400_000);
    expect(previousFireTime('0 2 * * *', 'Europe/Paris', twoAmParis + 1)).toBe(twoAmParis);
    expect(previousFireTime('0 2 * * *', 'Europe/Paris', twoAmParis)).toBe(twoAmParis - 86_400_000);
  });
});
