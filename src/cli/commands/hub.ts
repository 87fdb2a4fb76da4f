// `flotilla hub`: the control plane of a multi-node stack, on its hub node (the first
// gateway). Other nodes join it with `flotilla node token` here and `flotilla agent --join`
// there. In the foreground by default (for systemd); --detach returns once it answers.
import path from 'node:path';
import { startDetachedDaemon } from '../detached-daemon.ts';
import { loadStackOrReport } from '../stack-file.ts';
import { writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';
import { checkAddressOption } from '../usage.ts';
import { hubNode } from '../../plan/firewall-access.ts';
import { runDaemon } from './daemon.ts';

const USAGE = 'flotilla hub [-f flotilla.yml] [--node NAME] [--address PUBLIC_IP] [--detach]';

export const hubCommand: CommandSpec = {
  usage: USAGE,
  options: {
    file: { type: 'string', short: 'f' },
    node: { type: 'string' },
    address: { type: 'string' },
    detach: { type: 'boolean', short: 'd' },
  },
  positionals: [],
  async run({ values }, output: Output) {
    const address = values.address as string | undefined;
    checkAddressOption(address);
    const loaded = await loadStackOrReport(values.file as string | undefined, output);
    if (!loaded) return 1;
    const node = (values.node as string | undefined) ?? hubNode(loaded.stack);
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
