// What each alert channel is called, for `flotilla alerts test <channel>` and delivery
// logs: its kind, and its name (the `name:` written in the stack file, else one made from
// the kind).
import { ALERT_CHANNEL_KINDS, type AlertChannel } from '../../spec/schema.ts';

export type AlertChannelKind = (typeof ALERT_CHANNEL_KINDS)[number];

/** The one kind key a validated channel sets. */
export function channelKind(channel: AlertChannel): AlertChannelKind {
  const kind = ALERT_CHANNEL_KINDS.find((candidate) => channel[candidate] !== undefined);
  if (kind === undefined) throw new Error('an alert channel needs one of its kinds');
  return kind;
}

/**
 * Each channel's name, in the order of `alerts`, all different. Written names come first
 * and are kept as written (validate refuses two alike; should a duplicate reach here, the
 * first keeps it). A channel without one takes its kind, numbered from 2 when the kind
 * repeats (`webhook`, `webhook-2`); a made name that is taken (by a written name anywhere
 * in the list, or an earlier made one) moves to the next free number, so
 * `[{ webhook }, { name: webhook, slack }]` names them `webhook-2` and `webhook`.
 */
export function channelNames(alerts: readonly AlertChannel[]): string[] {
  const taken = new Set<string>();
  const written = alerts.map((channel) => {
    if (channel.name === undefined || taken.has(channel.name)) return undefined;
    taken.add(channel.name);
    return channel.name;
  });
  return alerts.map((channel, index) => {
    const kept = written[index];
    if (kept !== undefined) return kept;
    const base = channel.name ?? channelKind(channel);
    let name = base;
    for (let number = 2; taken.has(name); number += 1) name = `${base}-${number}`;
    taken.add(name);
    return name;
  });
}
