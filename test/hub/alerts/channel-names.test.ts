// Alert channel names, as `flotilla alerts test <channel>` takes them: written names kept,
// the others the kind, numbered when it repeats, and never two alike.
import { describe, expect, it } from 'vitest';
import { channelKind, channelNames } from '../../../src/hub/alerts/channel-names.ts';
import type { AlertChannel } from '../../../src/spec/schema.ts';

const webhook = (name?: string): AlertChannel => ({
  ...(name !== undefined && { name }),
  webhook: { url: 'https://hooks.example.com/x', headers: {} },
});
const slack = (name?: string): AlertChannel => ({
  ...(name !== undefined && { name }),
  slack: { webhook_url: 'https://hooks.slack.com/services/T/B/X' },
});

describe('channelNames', () => {
  it('names each channel by its kind, numbered from 2 when the kind repeats', () => {
    expect(channelNames([webhook(), slack(), webhook(), webhook()])).toEqual([
      'webhook',
      'slack',
      'webhook-2',
      'webhook-3',
    ]);
  });

  it('keeps written names', () => {
    expect(channelNames([webhook('pager'), webhook(), slack('ops')])).toEqual([
      'pager',
      'webhook',
      'ops',
    ]);
  });

  it('moves a made name off a written one, wherever the written one stands', () => {
    expect(channelNames([webhook(), slack('webhook'), webhook('webhook-2'), webhook()])).toEqual([
      'webhook-3',
      'webhook',
      'webhook-2',
      'webhook-4',
    ]);
  });

  it('numbers a repeated written name rather than returning two alike', () => {
    expect(channelNames([slack('ops'), webhook('ops')])).toEqual(['ops', 'ops-2']);
  });

  it('names no channel of an empty list', () => {
    expect(channelNames([])).toEqual([]);
  });
});

describe('channelKind', () => {
  it('is the one kind key the channel sets', () => {
    expect(channelKind(slack('ops'))).toBe('slack');
    expect(channelKind(webhook())).toBe('webhook');
  });
});
