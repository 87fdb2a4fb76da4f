// The Slack channel: an incoming webhook given one mrkdwn `text` (the title in bold, the
// body below). Error texts come from outside, so Slack's control characters are escaped:
// an error reading "<!channel>" must not page the whole channel.
import type { AlertChannel } from '../../../spec/schema.ts';
import { renderText, renderTitle, type AlertMessage } from '../alert-message.ts';
import type { DeliveryResult } from './delivery.ts';
import { postJson } from './http-post.ts';

export type SlackChannel = NonNullable<AlertChannel['slack']>;

/** Slack's three escapes (https://api.slack.com/reference/surfaces/formatting#escaping). */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function sendSlack(
  channel: SlackChannel,
  message: AlertMessage,
  signal: AbortSignal,
): Promise<DeliveryResult> {
  const text = `*${escapeMrkdwn(renderTitle(message))}*\n${escapeMrkdwn(renderText(message))}`;
  return postJson({ url: channel.webhook_url, body: JSON.stringify({ text }), signal });
}
