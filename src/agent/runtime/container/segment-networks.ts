// A stack's segments on a node as Docker networks: one bridge per segment its containers
// are in, `flotilla-<stack>-<segment>`, with the subnet plan chose (never one from
// dockerd's pools, which could overlap another node-local range) and the bridge name
// the segment table matches (local-segments.ts). A container answers on each of its
// networks to its service name (Docker's embedded DNS). Networks are labelled, so one
// Flotilla did not make is never joined, and `down` removes only the stack's own.
// dockerd runs with --iptables=false: the two kernel settings its iptables mode would
// have made are set here (route_localnet only on a bridge whose containers reach native
// services; IP forwarding, which the segment table confines to what containers may do).
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import {
  type DockerEngine,
  EngineConflictError,
  NoSuchNetworkError,
} from '../../../container/engine/index.ts';
import type { ContainerRuntimeSpec } from '../../../plan/desired.ts';
import { segmentBridge, segmentGateway, segmentNetwork } from '../../../plan/local-segments.ts';
import { LABEL, ownerLabels } from './container-spec.ts';

const run = promisify(execFile);

export class NetworkOwnershipError extends Error {}

export interface SegmentNetworkOptions {
  engine: DockerEngine;
  stack: string;
  node: string;
  /** The network namespace dockerd's bridges are in, when not the agent's own (tests). */
  netns?: string;
}

/** Makes (or checks) the networks of `runtime.networks`, then the kernel settings they need. */
export async function ensureSegmentNetworks(
  options: SegmentNetworkOptions,
  runtime: Pick<ContainerRuntimeSpec, 'networks' | 'native_hosts'>,
): Promise<void> {
  for (const network of runtime.networks) await ensureNetwork(options, network);
  const first = runtime.networks[0]!;
  // Sends a packet for 127.0.0.1 (the segment table's DNAT of the gateway) to loopback;
  // the table drops any other packet from the bridge to 127.0.0.0/8.
  if (runtime.native_hosts.length > 0)
    await sysctl(
      options,
      `net/ipv4/conf/${segmentBridge(options.stack, first.segment)}/route_localnet`,
    );
  // Containers reach other nodes (over the mesh) and, in an egress segment, the internet
  // through the node; the segment table decides what is forwarded.
  await sysctl(options, 'net/ipv4/ip_forward');
}

async function ensureNetwork(
  { engine, stack, node }: SegmentNetworkOptions,
  { segment, subnet }: ContainerRuntimeSpec['networks'][number],
): Promise<void> {
  const name = segmentNetwork(stack, segment);
  const owned = async () => {
    const network = await engine.networks.inspect(name);
    if (network.labels[LABEL.stack] !== stack)
      throw new NetworkOwnershipError(
        `a Docker network named ${name} exists but Flotilla did not create it: rename or remove it (docker network rm ${name})`,
      );
    if (!network.ipam.some((config) => config.subnet === subnet))
      throw new NetworkOwnershipError(
        `Docker network ${name} has subnet ${network.ipam[0]?.subnet ?? '(none)'}, not ${subnet} as planned: run flotilla down on this stack, then up, to make it again`,
      );
  };
  try {
    return await owned();
  } catch (error) {
    if (!(error instanceof NoSuchNetworkError)) throw error;
  }
  try {
    await engine.networks.create({
      name,
      labels: { ...ownerLabels(stack, node), [LABEL.segment]: segment },
      subnet,
      gateway: segmentGateway(subnet),
      options: { 'com.docker.network.bridge.name': segmentBridge(stack, segment) },
    });
  } catch (error) {
    // Another supervisor of this stack made it a moment ago.
    if (!(error instanceof EngineConflictError)) throw error;
    await owned();
  }
}

/** Sets a /proc/sys switch to 1, in dockerd's namespace. */
async function sysctl(options: SegmentNetworkOptions, key: string): Promise<void> {
  if (options.netns === undefined) return writeFile(`/proc/sys/${key}`, '1\n');
  await run('nsenter', [`--net=/run/netns/${options.netns}`, '--', 'sysctl', '-qw', `${key}=1`]);
}

/** `down`, once the stack's containers on this node are gone: its networks go too (volumes stay). */
export async function removeSegmentNetworks(
  engine: DockerEngine,
  stack: string,
  node: string,
): Promise<void> {
  for (const network of await engine.networks.list(ownerLabels(stack, node))) {
    try {
      await engine.networks.remove(network.id);
    } catch (error) {
      if (!(error instanceof NoSuchNetworkError)) throw error;
    }
  }
}
