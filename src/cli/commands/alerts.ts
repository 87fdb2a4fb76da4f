// `flotilla alerts test [channel]`: sends a real test message to one alert channel or to
// every one, through the running hub (where the secrets are), and says which arrived.
import type { ChannelDelivery } from '../../hub/alerts/alert-dispatcher.ts';
import type { CommandSpec } from '../command.ts';
import { HubRequestFailed } from '../hub-client.ts';
import { toJson, writeLine, type Output } from '../output.ts';
import { connectRunningStack } from '../running-stack.ts';

export const alertsCommand: CommandSpec = {
  usage: 'flotilla alerts test [channel] [-f flotilla.yml] [--json]',
  options: {
    file: { type: 'string', short: 'f' },
    json: { type: 'boolean' },
  },
  positionals: { verbs: { test: ['[channel]'] } },
  async run({ values, positionals }, output: Output) {
    const channel = positionals[1];
    const running = await connectRunningStack(values.file as string | undefined, output);
    if (!running) return 1;
    let deliveries: ChannelDelivery[];
    try {
      ({ deliveries } = await running.client.post<{ deliveries: ChannelDelivery[] }>(
        '/api/v1/alerts/test',
        channel === undefined ? {} : { channel },
      ));
    } catch (error) {
      if (!(error instanceof HubRequestFailed)) throw error;
      const hint = (error.details as { hint?: string } | undefined)?.hint;
      writeLine(output.err, `flotilla alerts test: ${error.message}`);
      if (hint !== undefined) writeLine(output.err, `hint: ${hint}`);
      return 1;
    }
    if (values.json === true) writeLine(output.out, toJson(deliveries));
    else
      for (const delivery of deliveries)
        writeLine(
          output.out,
          delivery.ok
            ? `${output.color.green('sent')}    ${delivery.channel}: ${delivery.detail}`
            : `${output.color.red('failed')}  ${delivery.channel}: ${delivery.detail} (${delivery.attempts} attempts)`,
        );
    return deliveries.every((delivery) => delivery.ok) ? 0 : 1;
  },
};
