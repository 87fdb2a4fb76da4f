// What every alert channel answers: delivered or not, and a short reason an operator can
// act on. Channel URLs (Slack, Discord, ntfy topics) and tokens are credentials, so a
// reason names the host only and is scrubbed of every secret the channel holds before it
// is shown, logged or stored.
import { timedOutAfter } from '../../../monitoring/deadline.ts';
import { errorMessage } from '../../../system/network-errors.ts';

export interface DeliveryResult {
  ok: boolean;
  /** "HTTP 200 from hooks.slack.com", "HTTP 404 from hooks.slack.com: no_service", … */
  detail: string;
}

/** How long one delivery may take, from connecting to the receiver's answer. */
export const ALERT_TIMEOUT_MS = 10_000;

/**
 * Shorter strings are not redacted: no credential is that short, and a header such as
 * `X-Version: 1` would otherwise blank every 1 out of "HTTP 500 from 10.0.0.1:8080".
 */
const SHORTEST_SECRET = 6;

/** `text` with each of `secrets` replaced by "[redacted]", the longest first. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  return secrets
    .filter((secret): secret is string => (secret?.length ?? 0) >= SHORTEST_SECRET)
    .sort((a, b) => b.length - a.length)
    .reduce((scrubbed, secret) => scrubbed.split(secret).join('[redacted]'), text);
}

/**
 * Why an attempt failed: past the deadline, cancelled, or the error's own message (not
 * describeError's short name: the message names the host an operator has to look at).
 */
export function failureReason(error: unknown, signal: AbortSignal): string {
  if (signal.aborted)
    return (signal.reason as Error | undefined)?.name === 'TimeoutError'
      ? timedOutAfter(ALERT_TIMEOUT_MS)
      : 'cancelled';
  return errorMessage(error);
}
