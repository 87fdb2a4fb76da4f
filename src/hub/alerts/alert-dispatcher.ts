// Sends each alert to every channel of the stack: secrets rendered at the moment of sending
// (never kept), a failed delivery tried again a little later, every delivery audited. One
// channel failing never holds up another.
import path from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { renderSecretsDeep } from '../../secrets/render-secrets.ts';
import type { SecretStore } from '../../secrets/store.ts';
import type { AlertChannel, Stack } from '../../spec/schema.ts';
import type { BusEvent } from '../../protocol/events.ts';
import type { AlertMessage } from './alert-message.ts';
import { channelKind, channelNames } from './channel-names.ts';
import { sendAlert, type DeliveryResult } from './send-alert.ts';

/** Waits before the second and third attempt: a receiver restarting, a brief outage. */
const RETRY_DELAYS_MS = [2_000, 10_000];

export interface ChannelDelivery extends DeliveryResult {
  channel: string;
  attempts: number;
}

export class UnknownAlertChannel extends Error {
  constructor(
    readonly channel: string,
    readonly known: string[],
  ) {
    super(`no alert channel named ${channel}`);
  }
  get hint(): string {
    return this.known.length > 0
      ? `channels: ${this.known.join(', ')}`
      : 'declare one under `alerts:` in the stack file';
  }
}

export interface AlertDispatcherOptions {
  secrets: Pick<SecretStore, 'values'>;
  audit: (event: Omit<BusEvent, 'at'>) => void;
  log: (line: string) => void;
  retryDelaysMs?: readonly number[];
}

export class AlertDispatcher {
  private channels: { name: string; channel: AlertChannel }[] = [];
  private stackDir = '.';
  private readonly stopping = new AbortController();

  constructor(private readonly options: AlertDispatcherOptions) {}

  update(stack: Stack, stackDir: string): void {
    const names = channelNames(stack.alerts);
    this.channels = stack.alerts.map((channel, index) => ({ name: names[index]!, channel }));
    this.stackDir = stackDir;
  }

  names(): string[] {
    return this.channels.map(({ name }) => name);
  }

  /** To every channel (or only `only`); resolves when each has succeeded or given up. */
  async send(message: AlertMessage, only?: string): Promise<ChannelDelivery[]> {
    const targets =
      only === undefined ? this.channels : this.channels.filter(({ name }) => name === only);
    if (only !== undefined && targets.length === 0)
      throw new UnknownAlertChannel(only, this.names());
    return Promise.all(targets.map(({ name, channel }) => this.deliver(name, channel, message)));
  }

  close(): void {
    this.stopping.abort();
  }

  private async deliver(
    name: string,
    channel: AlertChannel,
    message: AlertMessage,
  ): Promise<ChannelDelivery> {
    const delays = this.options.retryDelaysMs ?? RETRY_DELAYS_MS;
    let result: DeliveryResult = { ok: false, detail: 'not sent' };
    let attempts = 0;
    for (const delay of [0, ...delays]) {
      if (delay > 0)
        await wait(delay, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      if (this.stopping.signal.aborted) break;
      attempts += 1;
      const resolved = await this.resolve(channel);
      result =
        'unset' in resolved
          ? { ok: false, detail: `secret ${resolved.unset.join(', ')} is not set` }
          : await sendAlert(resolved.value, message, this.stopping.signal);
      if (result.ok || 'unset' in resolved) break;
    }
    const delivery = { channel: name, attempts, ...result };
    this.options.audit({
      type: result.ok ? 'alert.sent' : 'alert.failed',
      message: result.ok
        ? `${message.kind} alert for ${message.monitor ?? message.what} sent to ${name}`
        : `${message.kind} alert for ${message.monitor ?? message.what} not sent to ${name}: ${result.detail}`,
      ...(message.node === undefined ? {} : { node: message.node }),
      ...(message.service === undefined ? {} : { service: message.service }),
      data: {
        channel: name,
        kind: channelKind(channel),
        alert: message.kind,
        attempts,
        detail: result.detail,
      },
    });
    if (!result.ok)
      this.options.log(`alert to ${name} failed after ${attempts} attempts: ${result.detail}`);
    return delivery;
  }

  private async resolve(channel: AlertChannel) {
    const resolved = await renderSecretsDeep(channel, this.options.secrets);
    if ('value' in resolved && resolved.value.email?.smtp.cacert !== undefined)
      resolved.value.email.smtp.cacert = path.resolve(
        this.stackDir,
        resolved.value.email.smtp.cacert,
      );
    return resolved;
  }
}
