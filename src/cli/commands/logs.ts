// `flotilla logs <service>`: the last lines of every instance, or follow them with -f.
import { HubRequestFailed } from '../hub-client.ts';
import { connectRunningStack } from '../running-stack.ts';
import { maskSecrets, writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';

export const logsCommand: CommandSpec = {
  usage: 'flotilla logs <service> [-f flotilla.yml] [-n 100] [--follow]',
  options: {
    file: { type: 'string', short: 'f' },
    lines: { type: 'string', short: 'n' },
    follow: { type: 'boolean' },
  },
  positionals: ['<service>'],
  async run({ values, positionals }, output: Output) {
    const service = positionals[0]!;
    const running = await connectRunningStack(values.file as string | undefined, output);
    if (!running) return 1;
    const lines = Number(values.lines ?? (values.follow ? 10 : 100));
    const base = `/api/v1/services/${encodeURIComponent(service)}/logs`;
    try {
      if (!values.follow) {
        const answer = await running.client.get<{ lines: string[] }>(`${base}?lines=${lines}`);
        for (const line of answer.lines) writeLine(output.out, maskSecrets(line));
        return 0;
      }
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      await running.client.events(
        `${base}/follow?lines=${lines}`,
        (_event, data) => {
          for (const line of data as string[]) writeLine(output.out, maskSecrets(line));
        },
        abort.signal,
      );
      return 0;
    } catch (error) {
      if (!(error instanceof HubRequestFailed)) throw error;
      writeLine(output.err, `flotilla logs: ${error.message}`);
      return 1;
    }
  },
};
