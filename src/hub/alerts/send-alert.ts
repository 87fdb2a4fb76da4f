// Delivers one alert message on one channel, whatever its kind: the channel's sender from a
// table, under one deadline (ALERT_TIMEOUT_MS) whose signal every sender honours. Never
// throws: a failed delivery is `{ ok: false, detail }`, for the caller to log and retry.
import type { AlertChannel } from '../../spec/schema.ts';
import type { AlertMessage } from './alert-message.ts';
import { channelKind, type AlertChannelKind } from './channel-names.ts';
import { ALERT_TIMEOUT_MS, type DeliveryResult } from './channels/delivery.ts';
import { sendDiscord } from './channels/discord.ts';
import { sendEmail } from './channels/email.ts';
import { sendNtfy } from './channels/ntfy.ts';
import { sendSlack } from './channels/slack.ts';
import { sendWebhook } from './channels/webhook.ts';

export type { DeliveryResult } from './channels/delivery.ts';

/**
 * A channel as the stack file declares it, with every `${secret:NAME}` already replaced by
 * its value and `email.smtp.cacert` made absolute (the caller renders both). Same shape as
 * AlertChannel: the name says which of the two a value is.
 */
export type ResolvedAlertChannel = AlertChannel;

type Sender<K extends AlertChannelKind> = (
  config: NonNullable<AlertChannel[K]>,
  message: AlertMessage,
  signal: AbortSignal,
) => Promise<DeliveryResult>;

const SENDERS: { [K in AlertChannelKind]: Sender<K> } = {
  ntfy: sendNtfy,
  webhook: sendWebhook,
  slack: sendSlack,
  discord: sendDiscord,
  email: sendEmail,
};

function dispatch<K extends AlertChannelKind>(
  kind: K,
  channel: ResolvedAlertChannel,
  message: AlertMessage,
  signal: AbortSignal,
): Promise<DeliveryResult> {
  const sender: Sender<K> = SENDERS[kind];
  return sender(channel[kind] as NonNullable<AlertChannel[K]>, message, signal);
}

/**
 * Delivers `message` on `channel` within ALERT_TIMEOUT_MS; `cancel` (the hub stopping) ends
 * the attempt sooner, as "cancelled".
 */
export async function sendAlert(
  channel: ResolvedAlertChannel,
  message: AlertMessage,
  cancel?: AbortSignal,
): Promise<DeliveryResult> {
  const deadline = AbortSignal.timeout(ALERT_TIMEOUT_MS);
  const signal = cancel === undefined ? deadline : AbortSignal.any([deadline, cancel]);
  try {
    return await dispatch(channelKind(channel), channel, message, signal);
  } catch (error) {
    // Senders answer every failure they know of; this is the guard for one they do not.
    return { ok: false, detail: `not sent: ${error instanceof Error ? error.name : 'error'}` };
  }
}
