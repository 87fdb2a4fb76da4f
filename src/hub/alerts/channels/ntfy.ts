// The ntfy channel: a JSON publish (POST to the server's root with the topic in the body,
// https://docs.ntfy.sh/publish/#publish-as-json), so title, tags and priority travel in
// one document instead of headers. The configured URL is the topic's URL; its last path
// segment is the topic, the rest the server (which may sit under a path of its own).
import type { AlertChannel } from '../../../spec/schema.ts';
import { renderText, renderTitle, type AlertKind, type AlertMessage } from '../alert-message.ts';
import type { DeliveryResult } from './delivery.ts';
import { postJson } from './http-post.ts';

export type NtfyChannel = NonNullable<AlertChannel['ntfy']>;

/** ntfy's 1 (min) to 5 (max): an outage wakes the phone, a recovery does not. */
const DEFAULT_PRIORITY: Record<AlertKind, number> = {
  down: 5,
  flapping: 5,
  reminder: 4,
  event: 4,
  up: 3,
  test: 3,
};

/** Emoji short codes ntfy shows before the title. */
const TAG: Record<AlertKind, string> = {
  down: 'rotating_light',
  flapping: 'warning',
  reminder: 'hourglass',
  event: 'information_source',
  up: 'white_check_mark',
  test: 'test_tube',
};

/** The server's root and the topic, from the topic URL; undefined when it names no topic. */
export function ntfyTarget(topicUrl: string): { root: string; topic: string } | undefined {
  let url: URL;
  try {
    url = new URL(topicUrl);
  } catch {
    return undefined;
  }
  const segments = url.pathname.split('/');
  const topic = segments.pop();
  if (!topic) return undefined;
  url.pathname = `${segments.join('/')}/`;
  url.search = '';
  return { root: url.toString(), topic: decodeURIComponent(topic) };
}

export function sendNtfy(
  channel: NtfyChannel,
  message: AlertMessage,
  signal: AbortSignal,
): Promise<DeliveryResult> {
  const target = ntfyTarget(channel.url);
  if (target === undefined)
    return Promise.resolve({
      ok: false,
      detail: 'the ntfy URL names no topic: write it as https://<server>/<topic>',
    });
  return postJson({
    url: target.root,
    body: JSON.stringify({
      topic: target.topic,
      title: renderTitle(message),
      message: renderText(message),
      priority: channel.priority ?? DEFAULT_PRIORITY[message.kind],
      tags: [TAG[message.kind], message.stack],
    }),
    headers: channel.token === undefined ? [] : [{ authorization: `Bearer ${channel.token}` }],
    secrets: [channel.token, target.topic, channel.url],
    signal,
  });
}
