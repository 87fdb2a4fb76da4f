// `flotilla agent [--join <token>]`: runs this node's agent in the foreground (for systemd).
// The first run joins with a token from `flotilla node token`; later runs reuse the
// membership saved in the state dir.
import path from 'node:path';
import { AgentDaemon, NotJoined } from '../../daemon/agent-daemon.ts';
import { JoinFailed } from '../../daemon/membership.ts';
import { writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';
import { checkAddressOption } from '../usage.ts';

const USAGE = 'flotilla agent [--join TOKEN] [--node NAME] [--address PUBLIC_IP] [--state-dir DIR]';

/** Not per stack: a node learns its stack only when it joins. */
function agentStateDir(flag: string | undefined): string {
  return path.resolve(flag ?? process.env.FLOTILLA_STATE_DIR ?? '/var/lib/flotilla/agent');
}

export const agentCommand: CommandSpec = {
  usage: USAGE,
  options: {
    join: { type: 'string' },
    node: { type: 'string' },
    address: { type: 'string' },
    'state-dir': { type: 'string' },
  },
  positionals: [],
  async run({ values }, output: Output) {
    const address = values.address as string | undefined;
    checkAddressOption(address);
    const token = values.join as string | undefined;
    const log = (line: string) => writeLine(output.out, `${new Date().toISOString()} ${line}`);
    const daemon = new AgentDaemon({
      stateDir: agentStateDir(values['state-dir'] as string | undefined),
      log,
      ...(token === undefined
        ? {}
        : {
            join: {
              token,
              ...(values.node === undefined ? {} : { node: values.node as string }),
              ...(address === undefined ? {} : { address }),
            },
          }),
    });
    process.once('SIGTERM', () => void daemon.detach());
    process.once('SIGINT', () => void daemon.detach());
    try {
      const membership = await daemon.start();
      log(`node ${membership.node} of stack ${membership.stack} is running`);
    } catch (error) {
      if (!(error instanceof JoinFailed || error instanceof NotJoined)) throw error;
      writeLine(output.err, `flotilla agent: ${error.message}`);
      return 1;
    }
    await daemon.done;
    log('stopped');
    return 0;
  },
};
