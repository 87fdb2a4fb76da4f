// `flotilla node upgrade NODE… | --all`, run on the hub: puts this Flotilla's release on nodes
// that `node add` set up, one at a time, each back and healthy before the next. The agent
// restarts from the new release and adopts the running services: none restarts. A node
// that fails stops the rollout; those after it keep their release.
import { bootstrapNode } from '../../node/node-bootstrap.ts';
import { readNodeHosts } from '../../node/node-hosts.ts';
import { NodeSetupFailed } from '../../node/node-setup-error.ts';
import { RemoteShell } from '../../ssh/remote-shell.ts';
import type { ParsedArgs } from '../command.ts';
import { packThisRelease, reportNodeFailure, waitForHealthyNode } from '../node-rollout.ts';
import { writeLine, type Output } from '../output.ts';
import { connectRunningStack } from '../running-stack.ts';
import { UsageError } from '../usage.ts';

export async function runNodeUpgrade(
  values: ParsedArgs['values'],
  named: string[],
  output: Output,
): Promise<number> {
  if ((named.length === 0) === !values.all)
    throw new UsageError('name the nodes to upgrade, or give --all (not both)');
  const running = await connectRunningStack(values.file as string | undefined, output);
  if (!running) return 1;
  const { stack, stateDir } = running.loaded;
  const hosts = await readNodeHosts(stateDir);
  const nodes = values.all ? Object.keys(hosts).filter((node) => node in stack.nodes) : named;
  const unknown = nodes.filter((node) => hosts[node] === undefined);
  if (unknown.length > 0)
    throw new UsageError(
      `${unknown.join(', ')} ${unknown.length === 1 ? 'was' : 'were'} not set up with node add here`,
      `node upgrade upgrades nodes this hub added: flotilla node add USER@HOST --name ${unknown[0]}`,
    );
  if (nodes.length === 0) {
    writeLine(output.out, 'no node was set up with node add here: nothing to upgrade');
    return 0;
  }
  try {
    const release = await packThisRelease(stateDir);
    writeLine(output.err, `release ${release.id}`);
    for (const node of nodes) {
      const host = hosts[node]!;
      const shell = await RemoteShell.connect({
        target: { user: host.user, host: host.host, port: host.port },
        // The key node add verified: a server with another key is refused.
        hostKeyFingerprint: host.host_key,
        ...(host.identity_file === undefined ? {} : { identityFile: host.identity_file }),
      });
      try {
        const result = await bootstrapNode({
          shell,
          release,
          node,
          stack: stack.name,
          ...(host.address === undefined ? {} : { address: host.address }),
          log: (line) => writeLine(output.err, line),
        });
        const unhealthy = await waitForHealthyNode(running.client, node);
        if (unhealthy !== undefined)
          throw new NodeSetupFailed(
            `${node} runs release ${release.id}, but ${unhealthy}`,
            `the nodes after it were not upgraded; flotilla status and flotilla logs say more`,
          );
        writeLine(
          output.out,
          result.changed.length === 0
            ? `${node}: already on ${release.id}, healthy`
            : `${output.color.green('✓')} ${node}: ${result.changed.join('; ')}; healthy`,
        );
      } finally {
        await shell.close();
      }
    }
    return 0;
  } catch (error) {
    return reportNodeFailure('upgrade', error, output);
  }
}
