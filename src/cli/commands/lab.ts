// `flotilla lab up|status|exec|down`: virtual nodes in network namespaces on this machine.
import { table, toJson, writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';
import { UsageError } from '../usage.ts';
import {
  LabError,
  labDockerds,
  labDown,
  labExec,
  labStatus,
  labUp,
  requireRoot,
  requireState,
  stateFile,
} from '../../lab/lab.ts';
import { dockerdSocket } from '../../lab/lab-dockerd.ts';

const USAGE = [
  'flotilla lab up [--nodes N] [--name NAME] [--docker]',
  '       flotilla lab status [--name NAME] [--json]',
  '       flotilla lab exec <node> [--name NAME] -- <command> [args…]',
  '       flotilla lab down [--name NAME]',
].join('\n');

export const labCommand: CommandSpec = {
  usage: USAGE,
  options: {
    nodes: { type: 'string', short: 'n' },
    name: { type: 'string' },
    json: { type: 'boolean' },
    docker: { type: 'boolean' },
  },
  positionals: { verbs: { up: [], status: [], exec: ['<node>', '<command>...'], down: [] } },
  async run({ values, positionals }, output: Output) {
    // main checked the verb and its words against `positionals` above.
    const [verb, ...rest] = positionals as ['up' | 'status' | 'exec' | 'down', ...string[]];
    const name = (values.name as string | undefined) ?? 'lab';
    try {
      switch (verb) {
        case 'up': {
          const raw = (values.nodes as string | undefined) ?? '3';
          if (!/^\d+$/.test(raw)) throw new UsageError(`--nodes must be a number, not "${raw}"`);
          const state = await labUp(name, Number(raw), { docker: values.docker === true });
          const engines = new Map(
            labDockerds(state).map((engine) => [engine.node, dockerdSocket(engine)]),
          );
          writeLine(
            output.out,
            `${output.color.green('✓')} lab ${state.name} is up: ${state.nodes.length} node${state.nodes.length === 1 ? '' : 's'}, internet ${state.internetAddress} on ${state.bridge}`,
          );
          writeLine(
            output.out,
            table(
              [
                ['NODE', 'NAMESPACE', 'ADDRESS', ...(engines.size > 0 ? ['DOCKER SOCKET'] : [])],
                ...state.nodes.map((node) => [
                  node.name,
                  node.namespace,
                  node.address,
                  ...(engines.size > 0 ? [engines.get(node.name) ?? ''] : []),
                ]),
              ],
              output.color.bold,
            ),
          );
          writeLine(output.out, `state: ${stateFile(state.name)}`);
          // An agent finds its node's engine through FLOTILLA_DOCKER_SOCKET; so can `docker`.
          const first = state.nodes[0]!;
          if (engines.size > 0)
            writeLine(
              output.out,
              `an agent on ${first.name}: FLOTILLA_DOCKER_SOCKET=${engines.get(first.name)}; docker there: flotilla lab exec ${first.name} --name ${state.name} -- docker -H unix://${engines.get(first.name)} ps`,
            );
          return 0;
        }
        case 'status': {
          requireRoot();
          const state = await requireState(name);
          const nodes = await labStatus(state);
          const docker = nodes.some((node) => node.docker !== undefined);
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
                ['NODE', 'NAMESPACE', 'ADDRESS', 'REACHABLE', ...(docker ? ['DOCKER'] : [])],
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
                  ...(!docker
                    ? []
                    : node.docker?.running
                      ? [`${output.color.green('running')} ${node.docker.socket}`]
                      : [output.color.red('stopped')]),
                ]),
              ],
              output.color.bold,
            ),
          );
          return 0;
        }
        case 'exec': {
          const [node, ...argv] = rest;
          const state = await requireState(name);
          return await labExec(state, node!, argv);
        }
        case 'down': {
          const removed = await labDown(name);
          writeLine(
            output.out,
            removed
              ? `${output.color.green('✓')} lab ${name} removed`
              : `no lab named "${name}": nothing to remove`,
          );
          return 0;
        }
      }
    } catch (error) {
      if (!(error instanceof LabError)) throw error;
      writeLine(output.err, `flotilla lab: ${error.message}`);
      writeLine(output.err, `hint: ${error.hint}`);
      return 1;
    }
  },
};
