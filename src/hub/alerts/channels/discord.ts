// The Discord channel: an incoming webhook with the title as the message's content and the
// body in one embed coloured by the kind of alert. Discord refuses a content over 2000
// characters or an embed description over 4096, so both are cut to fit; mentions are
// disabled, so an error text reading "@everyone" pings nobody.
import type { AlertChannel } from '../../../spec/schema.ts';
import { renderText, renderTitle, type AlertKind, type AlertMessage } from '../alert-message.ts';
import type { DeliveryResult } from './delivery.ts';
import { postJson } from './http-post.ts';

export type DiscordChannel = NonNullable<AlertChannel['discord']>;

const CONTENT_LIMIT = 2000;
const TITLE_LIMIT = 256;
const DESCRIPTION_LIMIT = 4096;

const COLOR: Record<AlertKind, number> = {
  down: 0xd93025,
  flapping: 0xd93025,
  reminder: 0xf29900,
  event: 0xf29900,
  up: 0x188038,
  test: 0x1a73e8,
};

/** `text` cut to `limit` characters, with an ellipsis when it was longer. */
function fit(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

export function sendDiscord(
  channel: DiscordChannel,
  message: AlertMessage,
  signal: AbortSignal,
): Promise<DeliveryResult> {
  const title = renderTitle(message);
  const body = {
    content: fit(title, CONTENT_LIMIT),
    embeds: [
      {
        title: fit(title, TITLE_LIMIT),
        description: fit(renderText(message), DESCRIPTION_LIMIT),
        color: COLOR[message.kind],
        timestamp: new Date(message.at).toISOString(),
      },
    ],
    allowed_mentions: { parse: [] },
  };
  return postJson({ url: channel.webhook_url, body: JSON.stringify(body), signal });
}
