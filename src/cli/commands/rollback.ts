// `flotilla rollback <service> [release]`: back to the release before the live one (or the one
// named), rolled out like a deploy; `--stack`: every service back to the stack's previous deploy.
import type { CommandSpec } from '../command.ts';
import { followDeploy } from '../deploy-stream.ts';
import { localIdentity } from '../../hub/deploy/deployer.ts';
import { HubRequestFailed } from '../hub-client.ts';
import { writeLine, type Output } from '../output.ts';
import { connectRunningStack } from '../running-stack.ts';
import { UsageError } from '../usage.ts';

export const rollbackCommand: CommandSpec = {
  usage:
    'flotilla rollback (<service> [release] | --stack) [--force REASON] [-f flotilla.yml] [--json]',
  options: {
    file: { type: 'string', short: 'f' },
    stack: { type: 'boolean' },
    force: { type: 'string' },
    message: { type: 'string', short: 'm' },
    json: { type: 'boolean' },
  },
  positionals: ['[service]', '[release]'],
  async run({ values, positionals }, output: Output) {
    const [service, given] = positionals;
    if (values.stack === true && service !== undefined)
      throw new UsageError('--stack rolls back every service: name no service with it');
    if (values.stack !== true && service === undefined)
      throw new UsageError(
        'missing <service>',
        'or --stack, to roll every service back to the previous deploy',
      );
    const release = given === undefined ? undefined : Number(given);
    if (release !== undefined && !(Number.isInteger(release) && release > 0))
      throw new UsageError(
        `"${given}" is not a release number`,
        'flotilla releases <service> lists them',
      );
    const running = await connectRunningStack(values.file as string | undefined, output);
    if (!running) return 1;
    const body = {
      by: localIdentity(),
      ...(release !== undefined && { release }),
      ...(values.force !== undefined && { force: values.force }),
      ...(values.message !== undefined && { message: values.message }),
    };
    try {
      return await followDeploy(
        running.client,
        service === undefined
          ? '/api/v1/rollback'
          : `/api/v1/services/${encodeURIComponent(service)}/rollback`,
        body,
        output,
        values.json === true,
      );
    } catch (error) {
      if (!(error instanceof HubRequestFailed)) throw error;
      writeLine(output.err, `flotilla rollback: ${error.message}`);
      const hint = (error.details as { hint?: string } | undefined)?.hint;
      if (hint) writeLine(output.err, `hint: ${hint}`);
      return 1;
    }
  },
};
