// `flotilla lab up|status|exec|down`: virtual nodes in network namespaces on this machine.
import { table, toJson, writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';
import {
  LabError,
  labDown,
  labExec,
  labStatus,
  labUp,
  requireRoot,
  requireState,
  stateFile,
} from '../../lab/lab.ts';

const USAGE = [
  'flotilla lab up [--nodes N] [--name NAME]',
  '       flotilla lab status [--name NAME] [--json]',
  '       flotilla lab exec <node> [--name NAME] -- <command> [args…]',
  '       flotilla lab down [--name NAME]',
].join('\n');

function usageError(output: Output, message: string): number {
  writeLine(output.err, `flotilla lab: ${message}`);
  writeLine(output.err, `usage: ${USAGE}`);
  return 2;
}

export const labCommand: CommandSpec = {
  usage: USAGE,
  options: {
    nodes: { type: 'string', short: 'n' },
    name: { type: 'string' },
    json: { type: 'boolean' },
  },
  allowPositionals: true,
  async run({ values, positionals }, output: Output) {
    const [verb, ...rest] = positionals;
    const name = (values.name as string | undefined) ?? 'lab';
    try {
      switch (verb) {
        case 'up': {
          if (rest.length > 0) return usageError(output, `unexpected argument "${rest[0]}"`);
          const raw = (values.nodes as string | undefined) ?? '3';
          if (!/^\d+$/.test(raw))
            return usageError(output, `--nodes must be a number, not "${raw}"`);
          const state = await labUp(name, Number(raw));
          writeLine(
            output.out,
            `${output.color.green('✓')} lab ${state.name} is up: ${state.nodes.length} node${state.nodes.length === 1 ? '' : 's'}, internet ${state.internetAddress} on ${state.bridge}`,
          );
          writeLine(
            output.out,
            table(
              [
                ['NODE', 'NAMESPACE', 'ADDRESS'],
                ...state.nodes.map((node) => [node.name, node.namespace, node.address]),
              ],
              output.color.bold,
            ),
          );
          writeLine(output.out, `state: ${stateFile(state.name)}`);
          return 0;
        }
        case 'status': {
          if (rest.length > 0) return usageError(output, `unexpected argument "${rest[0]}"`);
          requireRoot();
          const state = await requireState(name);
          const nodes = await labStatus(state);
          if (values.json) {
            writeLine(
              output.out,
              toJson({
                name: state.name,
                internet: { namespace: state.internetNamespace, address: state.internetAddress },
                bridge: state.bridge,
                nodes,
              }),
            );
            return 0;
          }
          writeLine(
            output.out,
            `lab ${state.name}: internet ${state.internetAddress} (${state.internetNamespace})`,
          );
          writeLine(
            output.out,
            table(
              [
                ['NODE', 'NAMESPACE', 'ADDRESS', 'REACHABLE'],
                ...nodes.map((node) => [
                  node.node,
                  node.namespace,
                  node.address,
                  !node.exists
                    ? output.color.red('missing')
                    : node.reachable === undefined
                      ? 'exists (no ping)'
                      : node.reachable
                        ? output.color.green('yes')
                        : output.color.red('no'),
                ]),
              ],
              output.color.bold,
            ),
          );
          return 0;
        }
        case 'exec': {
          const [node, ...argv] = rest;
          if (node === undefined) return usageError(output, 'exec needs a node name');
          if (argv.length === 0) return usageError(output, 'exec needs a command after `--`');
          const state = await requireState(name);
          return await labExec(state, node, argv);
        }
        case 'down': {
          if (rest.length > 0) return usageError(output, `unexpected argument "${rest[0]}"`);
          const removed = await labDown(name);
          writeLine(
            output.out,
            removed
              ? `${output.color.green('✓')} lab ${name} removed`
              : `no lab named "${name}": nothing to remove`,
          );
          return 0;
        }
        case undefined:
          return usageError(output, 'missing subcommand (up, status, exec or down)');
        default:
          return usageError(output, `unknown subcommand "${verb}" (up, status, exec or down)`);
      }
    } catch (error) {
      if (!(error instanceof LabError)) throw error;
      writeLine(output.err, `flotilla lab: ${error.message}`);
      writeLine(output.err, `hint: ${error.hint}`);
      return 1;
    }
  },
};
