// `flotilla history`: the deploys and rollbacks of the stack (or of one service), from the
// audit log: who, what, from which release to which, the result, how long it took.
import type { BusEvent } from '../../protocol/events.ts';
import type { CommandSpec } from '../command.ts';
import { HubRequestFailed } from '../hub-client.ts';
import { writeLine, type Output } from '../output.ts';
import { connectRunningStack } from '../running-stack.ts';
import { UsageError } from '../usage.ts';

export const historyCommand: CommandSpec = {
  usage: 'flotilla history [service] [-n 20] [-f flotilla.yml] [--json]',
  options: {
    file: { type: 'string', short: 'f' },
    lines: { type: 'string', short: 'n' },
    json: { type: 'boolean' },
  },
  positionals: ['[service]'],
  async run({ values, positionals }, output: Output) {
    const limit = Number(values.lines ?? 20);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500)
      throw new UsageError(`-n ${String(values.lines)} is not a count from 1 to 500`);
    const running = await connectRunningStack(values.file as string | undefined, output);
    if (!running) return 1;
    const query = new URLSearchParams({ limit: String(limit) });
    if (positionals[0] !== undefined) query.set('service', positionals[0]);
    let events: BusEvent[];
    try {
      ({ events } = await running.client.get<{ events: BusEvent[] }>(`/api/v1/deploys?${query}`));
    } catch (error) {
      if (!(error instanceof HubRequestFailed)) throw error;
      writeLine(output.err, `flotilla history: ${error.message}`);
      return 1;
    }
    if (values.json === true) {
      writeLine(output.out, JSON.stringify(events, null, 2));
      return 0;
    }
    if (events.length === 0) writeLine(output.out, 'no deploys yet');
    for (const event of events)
      writeLine(
        output.out,
        `${new Date(event.at).toISOString()}  ${event.type.padEnd(20)}  ${event.message}`,
      );
    return 0;
  },
};
