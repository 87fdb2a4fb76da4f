// `flotilla node setup --node NAME --address IP [--join-stdin] [--check] [--json]`: the server
// half of `node add` and `node upgrade`, which run it over SSH from the release they unpacked
// (src/node/node-setup.ts). By hand it repairs a node: it changes only what is not right.
import { JoinFailed } from '../../daemon/membership.ts';
import { RUNNING_INSTALL_ROOT } from '../../node/install-layout.ts';
import { NodeSetupFailed } from '../../node/node-setup-error.ts';
import { readNodeState, setupNode } from '../../node/node-setup.ts';
import { toJson, writeLine, type Output } from '../output.ts';
import type { ParsedArgs } from '../command.ts';
import { readStdin } from '../stdin.ts';
import { checkAddressOption, UsageError } from '../usage.ts';

export async function runNodeSetup(values: ParsedArgs['values'], output: Output): Promise<number> {
  const stateDir = values['state-dir'] as string | undefined;
  if (values.check) {
    const state = await readNodeState(stateDir);
    writeLine(output.out, values.json ? toJson(state) : describeState(state));
    return 0;
  }
  const node = values.node as string | undefined;
  const address = values.address as string | undefined;
  if (node === undefined) throw new UsageError('node setup needs --node NAME');
  checkAddressOption(address);
  try {
    const token = values['join-stdin'] ? await readStdin() : undefined;
    const result = await setupNode({
      releaseDir: RUNNING_INSTALL_ROOT,
      node,
      ...(address === undefined ? {} : { address }),
      ...(token ? { token } : {}),
      ...(stateDir === undefined ? {} : { stateDir }),
    });
    if (values.json) writeLine(output.out, toJson(result));
    else {
      for (const line of result.changed) writeLine(output.out, line);
      if (result.changed.length === 0) writeLine(output.out, `node ${node} was already set up`);
    }
    return 0;
  } catch (error) {
    if (error instanceof NodeSetupFailed) {
      writeLine(output.err, `flotilla node setup: ${error.message}`);
      writeLine(output.err, `hint: ${error.hint}`);
      return 1;
    }
    if (error instanceof JoinFailed) {
      writeLine(output.err, `flotilla node setup: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

function describeState(state: Awaited<ReturnType<typeof readNodeState>>): string {
  return [
    `joined:  ${state.joined ? `node ${state.joined.node} of stack ${state.joined.stack}` : 'no'}`,
    `release: ${state.release ?? 'none'}`,
    `agent:   ${state.agentPid === undefined ? 'not running' : `pid ${state.agentPid}`} (${state.init === 'systemd' ? 'systemd' : 'no systemd: detached'})`,
  ].join('\n');
}
