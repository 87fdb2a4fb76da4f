// `flotilla restart <service>`: one instance at a time, each back to healthy before the next.
import { HubRequestFailed } from '../hub-client.ts';
import { connectRunningStack } from '../running-stack.ts';
import { writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';

export const restartCommand: CommandSpec = {
  usage: 'flotilla restart <service> [-f flotilla.yml]',
  options: { file: { type: 'string', short: 'f' } },
  positionals: ['<service>'],
  async run({ values, positionals }, output: Output) {
    const service = positionals[0]!;
    const running = await connectRunningStack(values.file as string | undefined, output);
    if (!running) return 1;
    try {
      const { restarted } = await running.client.post<{ restarted: number }>(
        `/api/v1/services/${encodeURIComponent(service)}/restart`,
      );
      writeLine(
        output.out,
        `restarted ${restarted} instance${restarted === 1 ? '' : 's'} of ${service}`,
      );
      return 0;
    } catch (error) {
      if (!(error instanceof HubRequestFailed)) throw error;
      writeLine(output.err, `flotilla restart: ${error.message}`);
      return 1;
    }
  },
};
