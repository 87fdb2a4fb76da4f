// How an alert reads on every channel: the title and the plain-text body name the stack,
// node, service or route, what failed and the last error; a recovery says how long it
// lasted, a reminder since when. Pure: fixed times, no clock.
import { describe, expect, it } from 'vitest';
import {
  formatElapsed,
  renderText,
  renderTitle,
  type AlertMessage,
} from '../../../src/hub/alerts/alert-message.ts';
import { ROUTE_DOWN } from '../../helpers/alert-receivers.ts';

const START = Date.parse('2026-12-01T02:53:08Z');

const down = ROUTE_DOWN;

describe('formatElapsed', () => {
  it.each([
    [0, 'under a second'],
    [999, 'under a second'],
    [45_000, '45s'],
    [252_000, '4m 12s'],
    [3_600_000, '1h'],
    [3_660_000, '1h 1m'],
    [90_061_000, '1d 1h'],
    [86_400_000 + 59_000, '1d'],
  ])('%i ms reads %s', (ms, text) => expect(formatElapsed(ms)).toBe(text));
});

describe('renderTitle and renderText', () => {
  it('a down alert names the stack, node, service, route, monitor, what failed and the last error', () => {
    expect(renderTitle(down)).toBe('[shop] DOWN route:api.example.com/');
    expect(renderText(down)).toBe(
      [
        'https://api.example.com/ answers HTTP 502',
        'Since 2026-12-01 02:53:08 UTC.',
        '',
        'Stack: shop',
        'Node: app-1',
        'Service: api',
        'Route: api.example.com/',
        'Monitor: route:api.example.com/',
        'Last error: HTTP 502 Bad Gateway',
        'Time: 2026-12-01 02:54:38 UTC',
      ].join('\n'),
    );
  });

  it('a recovery says how long the incident lasted', () => {
    const up: AlertMessage = {
      ...down,
      kind: 'up',
      what: 'https://api.example.com/ answers HTTP 200 again',
      error: undefined,
      durationMs: 252_000,
      at: START + 252_000,
    };
    expect(renderTitle(up)).toBe('[shop] UP route:api.example.com/ after 4m 12s');
    expect(renderText(up)).toContain('Down for 4m 12s, since 2026-12-01 02:53:08 UTC.');
    expect(renderText(up)).not.toContain('Last error');
  });

  it('a reminder says since when, and for how long so far', () => {
    const reminder: AlertMessage = { ...down, kind: 'reminder', at: START + 3_720_000 };
    expect(renderTitle(reminder)).toBe('[shop] STILL DOWN route:api.example.com/');
    expect(renderText(reminder)).toContain('Still down, since 2026-12-01 02:53:08 UTC (1h 2m).');
  });

  it('a message about no monitor is titled by what happened, on one line', () => {
    const event: AlertMessage = {
      kind: 'event',
      stack: 'shop',
      what: 'deploy of api stopped at its health gate:\ninstance api-2 never became healthy',
      at: START,
    };
    expect(renderTitle(event)).toBe(
      '[shop] EVENT deploy of api stopped at its health gate: instance api-2 never became healthy',
    );
    expect(renderText(event).split('\n').slice(-2)).toEqual([
      'Stack: shop',
      'Time: 2026-12-01 02:53:08 UTC',
    ]);
  });
});
