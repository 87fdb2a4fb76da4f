// Maintenance windows as the stack file declares them (parsed by the real schema): one-off
// and recurring (cron in a time zone, across a DST change), monitor name patterns, and
// when the hub has to look again.
import { describe, expect, it } from 'vitest';
import {
  activeWindows,
  coversMonitor,
  inMaintenance,
  nextChange,
} from '../../../src/hub/monitoring/maintenance.ts';
import { stackSchema, type MaintenanceWindow } from '../../../src/spec/schema.ts';

function windows(...declared: object[]): MaintenanceWindow[] {
  return stackSchema.parse({ name: 'demo', monitoring: { maintenance: declared } }).monitoring
    .maintenance;
}

const t = (iso: string) => Date.parse(iso);

describe('one-off windows', () => {
  const [upgrade] = windows({ start: '2026-03-01T10:00:00Z', end: '2026-03-01T11:00:00+00:00' });

  it('is open from its start (inclusive) to its end (exclusive)', () => {
    expect(inMaintenance([upgrade!], 'api', t('2026-03-01T09:59:59.999Z'))).toBe(false);
    expect(inMaintenance([upgrade!], 'api', t('2026-03-01T10:00:00Z'))).toBe(true);
    expect(inMaintenance([upgrade!], 'api', t('2026-03-01T10:59:59.999Z'))).toBe(true);
    expect(inMaintenance([upgrade!], 'api', t('2026-03-01T11:00:00Z'))).toBe(false);
  });

  it('reads offsets in its times', () => {
    const [paris] = windows({
      start: '2026-03-01T10:00:00+01:00',
      end: '2026-03-01T10:30:00+01:00',
    });
    expect(inMaintenance([paris!], 'api', t('2026-03-01T09:10:00Z'))).toBe(true);
    expect(inMaintenance([paris!], 'api', t('2026-03-01T10:10:00Z'))).toBe(false);
  });

  it('says when it opens and closes, and nothing once it is over', () => {
    expect(nextChange([upgrade!], t('2026-03-01T08:00:00Z'))).toBe(t('2026-03-01T10:00:00Z'));
    expect(nextChange([upgrade!], t('2026-03-01T10:00:00Z'))).toBe(t('2026-03-01T11:00:00Z'));
    expect(nextChange([upgrade!], t('2026-03-01T11:00:00Z'))).toBeUndefined();
  });
});

describe('recurring windows', () => {
  const [nightly] = windows({ cron: '0 2 * * *', duration: '30m', timezone: 'Europe/Paris' });

  it('is open for its duration after each occurrence, in its time zone', () => {
    // Winter: Paris is UTC+1, so 02:00 there is 01:00 UTC.
    expect(inMaintenance([nightly!], 'api', t('2026-01-10T00:59:59Z'))).toBe(false);
    expect(inMaintenance([nightly!], 'api', t('2026-01-10T01:00:00Z'))).toBe(true);
    expect(inMaintenance([nightly!], 'api', t('2026-01-10T01:29:59Z'))).toBe(true);
    expect(inMaintenance([nightly!], 'api', t('2026-01-10T01:30:00Z'))).toBe(false);
    expect(inMaintenance([nightly!], 'api', t('2026-01-10T02:10:00Z'))).toBe(false);
  });

  it('follows the time zone across daylight saving time', () => {
    // Summer: Paris is UTC+2, so 02:00 there is 00:00 UTC.
    expect(inMaintenance([nightly!], 'api', t('2026-07-10T00:10:00Z'))).toBe(true);
    expect(inMaintenance([nightly!], 'api', t('2026-07-10T01:10:00Z'))).toBe(false);
  });

  it('defaults to UTC', () => {
    const [utc] = windows({ cron: '0 3 * * 0', duration: '2h' }); // Sundays 03:00-05:00
    expect(inMaintenance([utc!], 'api', t('2026-03-01T04:59:00Z'))).toBe(true); // a Sunday
    expect(inMaintenance([utc!], 'api', t('2026-03-02T04:00:00Z'))).toBe(false); // a Monday
  });

  it('says when the current window closes, then when the next one opens', () => {
    expect(nextChange([nightly!], t('2026-01-10T01:10:00Z'))).toBe(t('2026-01-10T01:30:00Z'));
    expect(nextChange([nightly!], t('2026-01-10T01:30:00Z'))).toBe(t('2026-01-11T01:00:00Z'));
  });

  it('stays open across overlapping occurrences', () => {
    const [long] = windows({ cron: '0 * * * *', duration: '90m' });
    expect(inMaintenance([long!], 'api', t('2026-01-10T05:59:00Z'))).toBe(true);
    // The next event is the next opening, never later than a real change.
    expect(nextChange([long!], t('2026-01-10T05:10:00Z'))).toBe(t('2026-01-10T06:00:00Z'));
  });
});

describe('which monitors a window covers', () => {
  const [routes, exact, all] = windows(
    { start: '2026-03-01T10:00:00Z', end: '2026-03-01T11:00:00Z', monitors: ['route:*'] },
    { start: '2026-03-01T12:00:00Z', end: '2026-03-01T13:00:00Z', monitors: ['api'] },
    { start: '2026-03-01T14:00:00Z', end: '2026-03-01T15:00:00Z' },
  );

  it('matches prefixes ending in *, exact names, and every monitor when empty', () => {
    expect(coversMonitor(routes!, 'route:api.example.com')).toBe(true);
    expect(coversMonitor(routes!, 'router')).toBe(false);
    expect(coversMonitor(exact!, 'api')).toBe(true);
    expect(coversMonitor(exact!, 'api-2')).toBe(false);
    expect(coversMonitor(all!, 'anything')).toBe(true);
  });

  it('puts a monitor in maintenance only for the windows that cover it', () => {
    const list = [routes!, exact!, all!];
    expect(inMaintenance(list, 'route:shop', t('2026-03-01T10:30:00Z'))).toBe(true);
    expect(inMaintenance(list, 'api', t('2026-03-01T10:30:00Z'))).toBe(false);
    expect(inMaintenance(list, 'api', t('2026-03-01T12:30:00Z'))).toBe(true);
    expect(inMaintenance(list, 'route:shop', t('2026-03-01T12:30:00Z'))).toBe(false);
    expect(activeWindows(list, t('2026-03-01T12:30:00Z'))).toEqual([exact]);
    expect(activeWindows(list, t('2026-03-01T13:30:00Z'))).toEqual([]);
  });

  it('finds the earliest change over all windows', () => {
    const list = [all!, routes!, exact!];
    expect(nextChange(list, t('2026-03-01T10:30:00Z'))).toBe(t('2026-03-01T11:00:00Z'));
    expect(nextChange(list, t('2026-03-01T11:00:00Z'))).toBe(t('2026-03-01T12:00:00Z'));
  });
});
