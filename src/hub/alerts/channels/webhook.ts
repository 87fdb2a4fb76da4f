// The generic webhook channel: the alert as a versioned JSON document, POSTed with the
// configured headers and, when the channel has a secret, signed so the receiver can tell
// it came from this stack's hub.
import { createHmac } from 'node:crypto';
import type { AlertChannel } from '../../../spec/schema.ts';
import { renderText, renderTitle, type AlertMessage } from '../alert-message.ts';
import type { DeliveryResult } from './delivery.ts';
import { postJson } from './http-post.ts';

export type WebhookChannel = NonNullable<AlertChannel['webhook']>;

export const SIGNATURE_HEADER = 'X-Flotilla-Signature';
export const TIMESTAMP_HEADER = 'X-Flotilla-Timestamp';

/** The body's fields; absent facts are null, so every delivery has the same keys. */
export function webhookPayload(message: AlertMessage) {
  return {
    version: 1,
    kind: message.kind,
    stack: message.stack,
    monitor: message.monitor ?? null,
    what: message.what,
    node: message.node ?? null,
    service: message.service ?? null,
    route: message.route ?? null,
    error: message.error ?? null,
    since: message.since ?? null,
    duration_ms: message.durationMs ?? null,
    at: message.at,
    title: renderTitle(message),
    text: renderText(message),
  };
}

/** "sha256=" and the hex HMAC-SHA256 of `body` under `secret`. */
export function webhookSignature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * POSTs the alert. With a secret, two headers more:
 * - `X-Flotilla-Signature: sha256=<hex>`: HMAC-SHA256 of the exact body bytes, keyed with
 *   the secret;
 * - `X-Flotilla-Timestamp: <ms>`: the body's `at`, when the message was made.
 *
 * A receiver verifies a delivery by reading the raw body (before any JSON parsing, which
 * could reorder or re-encode it), computing `sha256=` + hex(HMAC-SHA256(secret, raw body))
 * and comparing it with the header in constant time (Node: `crypto.timingSafeEqual` over
 * equal-length buffers). The timestamp header is not signed itself, but the `at` it
 * repeats is: after the signature matches, refuse a body whose `at` is older than a few
 * minutes, so a captured delivery cannot be replayed later.
 */
export function sendWebhook(
  channel: WebhookChannel,
  message: AlertMessage,
  signal: AbortSignal,
): Promise<DeliveryResult> {
  const body = JSON.stringify(webhookPayload(message));
  const signed: Record<string, string> =
    channel.secret === undefined
      ? {}
      : {
          [SIGNATURE_HEADER]: webhookSignature(channel.secret, body),
          [TIMESTAMP_HEADER]: String(message.at),
        };
  return postJson({
    url: channel.url,
    body,
    headers: [channel.headers, signed],
    secrets: [channel.secret, ...Object.values(channel.headers)],
    signal,
  });
}
