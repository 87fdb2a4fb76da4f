// `flotilla node add [user@]HOST[:PORT] [--name NODE] [-i KEY] [--host-key SHA256:…]`, run on
// the hub: sets up a server as a node of the running stack over SSH and waits until it is
// joined with its instances healthy. A second run repairs what is wrong and changes nothing
// that is right. The node must be declared in the stack file: it says what runs there.
import { hubNode } from '../../plan/firewall-access.ts';
import { bootstrapNode } from '../../node/node-bootstrap.ts';
import { recordNodeHost } from '../../node/node-hosts.ts';
import { defaultKnownHostsFile, rememberHostKey } from '../../ssh/host-keys.ts';
import { RemoteShell } from '../../ssh/remote-shell.ts';
import { BadSshTarget, parseSshTarget, type SshTarget } from '../../ssh/ssh-target.ts';
import type { Stack } from '../../spec/schema.ts';
import type { ParsedArgs } from '../command.ts';
import { packThisRelease, reportNodeFailure, waitForHealthyNode } from '../node-rollout.ts';
import { writeLine, type Output } from '../output.ts';
import { connectRunningStack } from '../running-stack.ts';
import { checkAddressOption, UsageError } from '../usage.ts';

export async function runNodeAdd(
  values: ParsedArgs['values'],
  targetText: string,
  output: Output,
): Promise<number> {
  let target: SshTarget;
  try {
    target = parseSshTarget(targetText);
  } catch (error) {
    if (error instanceof BadSshTarget) throw new UsageError(error.message, error.hint);
    throw error;
  }
  const address = values.address as string | undefined;
  checkAddressOption(address);
  const running = await connectRunningStack(values.file as string | undefined, output);
  if (!running) return 1;
  const { stack, stateDir } = running.loaded;
  const node = nodeFor(stack, target, values.name as string | undefined);
  const started = Date.now();
  try {
    const release = await packThisRelease(stateDir);
    const knownHostsFile = (values['known-hosts'] as string | undefined) ?? defaultKnownHostsFile();
    const identityFile = values.identity as string | undefined;
    const shell = await RemoteShell.connect({
      target,
      knownHostsFile,
      ...(identityFile === undefined ? {} : { identityFile }),
      ...(values['host-key'] === undefined
        ? {}
        : { hostKeyFingerprint: values['host-key'] as string }),
    });
    try {
      const result = await bootstrapNode({
        shell,
        release,
        node,
        stack: stack.name,
        ...(address === undefined ? {} : { address }),
        mintToken: async () =>
          (await running.client.post<{ token: string }>('/api/v1/nodes/token', { node })).token,
        log: (line) => writeLine(output.err, line),
      });
      await recordNodeHost(stateDir, node, {
        user: target.user,
        host: target.host,
        port: target.port,
        host_key: shell.hostKeyFingerprint,
        ...(identityFile === undefined ? {} : { identity_file: identityFile }),
        ...(address === undefined ? {} : { address }),
      });
      if (shell.hostKeyTrust === 'fingerprint') {
        await rememberHostKey(
          knownHostsFile,
          target.host,
          target.port,
          shell.hostKey.type,
          shell.hostKey.base64,
        );
        writeLine(output.err, `added ${target.host}'s host key to ${knownHostsFile}`);
      }
      for (const line of result.changed) writeLine(output.out, `  ${line}`);
      const unhealthy = await waitForHealthyNode(running.client, node);
      if (unhealthy !== undefined) {
        writeLine(output.err, `flotilla node add: node ${node} joined, but ${unhealthy}`);
        writeLine(output.err, 'hint: flotilla status and flotilla logs SERVICE say more');
        return 1;
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      writeLine(
        output.out,
        result.changed.length === 0
          ? `${output.color.green('✓')} nothing to change: ${node} (${target.host}) was set up and is healthy`
          : `${output.color.green('✓')} ${node} (${target.host}, ${result.os}) is a node of ${stack.name}, healthy, in ${seconds} s; WireGuard: ${result.wireguard}; agent: ${result.init === 'systemd' ? 'systemd unit flotilla-agent' : 'detached (no systemd on the server)'}`,
      );
      return 0;
    } finally {
      await shell.close();
    }
  } catch (error) {
    return reportNodeFailure('add', error, output);
  }
}

/** `--name`, else the stack's node at the SSH host's address; refused for the hub's node. */
function nodeFor(stack: Stack, target: SshTarget, name: string | undefined): string {
  const declared = Object.keys(stack.nodes);
  const node =
    name ?? declared.find((candidate) => stack.nodes[candidate]!.address === target.host);
  if (node === undefined)
    throw new UsageError(
      `${target.host} is the address of no node of stack ${stack.name}`,
      `name the node it becomes with --name (one of ${declared.join(', ')}), or declare it in the stack file under nodes: with address: ${target.host}`,
    );
  if (!declared.includes(node))
    throw new UsageError(
      `stack ${stack.name} has no node ${node}`,
      `declare it in the stack file under nodes: (with its address and labels), run flotilla apply, then add it; nodes: ${declared.join(', ')}`,
    );
  if (node === hubNode(stack))
    throw new UsageError(
      `${node} runs the hub: node add sets up the other nodes`,
      'the hub node runs `flotilla hub` (see the README), and node add runs there',
    );
  return node;
}
