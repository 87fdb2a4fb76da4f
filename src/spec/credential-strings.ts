// The stack file's strings outside services that may hold `${secret:NAME}` and nothing else
// from the interpolation grammar: backup targets' passwords and env, registry passwords,
// alert channels' URLs and tokens, the metrics token and heartbeat push tokens. Validate
// checks each one the same way (only secret references; set or not), so they are listed once.
import type { PathSegment } from './diagnostic.ts';
import { ALERT_CHANNEL_KINDS, type AlertChannel, type Stack } from './schema.ts';

export interface CredentialString {
  path: PathSegment[];
  text: string;
  /** Who uses it, for messages: "backup target `r2`", "alert channel 2 (slack)". */
  user: string;
}

/** The credential-bearing strings of one alert channel, by their key under the channel. */
function channelStrings(channel: AlertChannel): [PathSegment[], string | undefined][] {
  const { ntfy, webhook, slack, discord, email } = channel;
  return [
    [['ntfy', 'url'], ntfy?.url],
    [['ntfy', 'token'], ntfy?.token],
    [['webhook', 'url'], webhook?.url],
    [['webhook', 'secret'], webhook?.secret],
    ...Object.entries(webhook?.headers ?? {}).map(([header, value]): [PathSegment[], string] => [
      ['webhook', 'headers', header],
      value,
    ]),
    [['slack', 'webhook_url'], slack?.webhook_url],
    [['discord', 'webhook_url'], discord?.webhook_url],
    [['email', 'smtp', 'password'], email?.smtp.password],
  ];
}

export function credentialStrings(stack: Stack): CredentialString[] {
  const found: CredentialString[] = [];
  const add = (path: PathSegment[], text: string | undefined, user: string) => {
    if (text !== undefined) found.push({ path, text, user });
  };
  for (const [name, target] of Object.entries(stack.backups.targets)) {
    const at = ['backups', 'targets', name];
    add([...at, 'password'], target.password, `backup target \`${name}\``);
    for (const [key, value] of Object.entries(target.env))
      add([...at, 'env', key], value, `backup target \`${name}\``);
  }
  for (const [host, registry] of Object.entries(stack.registries))
    add(['registries', host, 'password'], registry.password, `registry ${host}`);
  stack.alerts.forEach((channel, index) => {
    const kind = ALERT_CHANNEL_KINDS.find((candidate) => channel[candidate] !== undefined);
    const user = `alert channel ${channel.name ?? `${index + 1} (${kind})`}`;
    for (const [path, text] of channelStrings(channel)) add(['alerts', index, ...path], text, user);
  });
  add(['monitoring', 'metrics', 'token'], stack.monitoring.metrics?.token, 'the metrics endpoint');
  for (const [name, monitor] of Object.entries(stack.monitors))
    add(['monitors', name, 'heartbeat', 'token'], monitor.heartbeat?.token, `monitor \`${name}\``);
  return found;
}
