// `flotilla hub`: the control plane of a multi-node stack, on its hub node (the first
// gateway). Other nodes join it with `flotilla node token` here and `flotilla agent --join`
// there. In the foreground by default (for systemd); --detach returns once it answers.
import path from 'node:path';
import { startDetachedDaemon } from '../detached-daemon.ts';
import { loadStackOrReport } from '../stack-file.ts';
import { writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';
import { checkAddressOption, UsageError } from '../usage.ts';
import { hubNode } from '../../plan/firewall-access.ts';
import { runDaemon } from './daemon.ts';
import { NodeSetupFailed } from '../../node/node-setup-error.ts';
import type { HubUnitOptions } from '../../node/hub-unit.ts';

const USAGE =
  'flotilla hub [-f flotilla.yml] [--node NAME] [--address PUBLIC_IP] [--detach | --install-unit]';

export const hubCommand: CommandSpec = {
  usage: USAGE,
  options: {
    file: { type: 'string', short: 'f' },
    node: { type: 'string' },
    address: { type: 'string' },
    detach: { type: 'boolean', short: 'd' },
    'install-unit': { type: 'boolean' },
  },
  positionals: [],
  async run({ values }, output: Output) {
    const address = values.address as string | undefined;
    checkAddressOption(address);
    const loaded = await loadStackOrReport(values.file as string | undefined, output);
    if (!loaded) return 1;
    const node = (values.node as string | undefined) ?? hubNode(loaded.stack);
    if (values['install-unit']) {
      if (values.detach) throw new UsageError('--detach and --install-unit exclude each other');
      return installUnit(
        {
          stackFile: path.resolve(loaded.file),
          ...(values.node === undefined ? {} : { node: values.node as string }),
          ...(address === undefined ? {} : { address }),
          ...(process.env.FLOTILLA_STATE_DIR === undefined
            ? {}
            : { stateDir: path.resolve(process.env.FLOTILLA_STATE_DIR) }),
        },
        output,
      );
    }
    if (!values.detach)
      return runDaemon(loaded, output, {
        ...(node === undefined ? {} : { node }),
        ...(address === undefined ? {} : { publicAddress: address }),
      });
    const argv = ['hub', '-f', path.resolve(loaded.file)];
    if (node !== undefined) argv.push('--node', node);
    if (address !== undefined) argv.push('--address', address);
    const daemon = await startDetachedDaemon(loaded, argv, output);
    if (!daemon) return 1;
    const others = Object.keys(loaded.stack.nodes).filter((name) => name !== node);
    writeLine(
      output.out,
      `${output.color.green('✓')} the hub of ${loaded.stack.name} runs on ${node} (log: ${daemon.logFile})`,
    );
    if (others.length > 0) {
      writeLine(output.out, 'Join the other nodes: for each of them run, here,');
      writeLine(output.out, `  flotilla node token --node <${others.join('|')}>`);
      writeLine(output.out, 'and on that node: flotilla agent --join <token>');
    }
    return 0;
  },
};

/** `--install-unit`: the unit is loaded only for this (it is no part of running the hub). */
async function installUnit(options: HubUnitOptions, output: Output): Promise<number> {
  const { HUB_UNIT_NAME, installHubUnit } = await import('../../node/hub-unit.ts');
  try {
    const result = await installHubUnit(options);
    writeLine(
      output.out,
      result === 'written'
        ? `${output.color.green('✓')} wrote /etc/systemd/system/${HUB_UNIT_NAME}, enabled and (re)started it`
        : `${output.color.green('✓')} ${HUB_UNIT_NAME} was already installed; it runs`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof NodeSetupFailed)) throw error;
    writeLine(output.err, `flotilla hub: ${error.message}`);
    writeLine(output.err, `hint: ${error.hint}`);
    return 1;
  }
}
