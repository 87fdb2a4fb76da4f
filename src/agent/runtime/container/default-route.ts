// A container in an egress segment and in one without egress must leave the node through
// the egress one. dockerd 20.10 has no say in it (gateway priority came with Docker 28):
// libnetwork takes the default route from the joined network whose name sorts first,
// whatever the order they were joined in, so n8n in `backend` and `default` would go out
// through backend, whose forward rule (local-segments.ts) rejects it. Docker's `internal`
// networks would sort last, but give a container in them alone no route to the mesh.
// So after each start (and on adoption) the agent replaces the default route inside the
// container's network namespace with its first egress segment's gateway. Its subnets keep
// their link routes (its gateway for native services, its segment peers); the mesh is
// reached through the default route, which every segment may take out of the node.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ContainerRuntimeSpec } from '../../../plan/desired.ts';
import { segmentGateway } from '../../../plan/local-segments.ts';

const run = promisify(execFile);

/**
 * The gateway a container's default route must take: its first egress segment's, when it
 * is also in a segment without egress (dockerd might pick that one); otherwise undefined,
 * and dockerd's choice stands (every one of its segments is as good as another).
 */
export function egressGateway(networks: ContainerRuntimeSpec['networks']): string | undefined {
  const egress = networks.find((network) => network.egress);
  if (!egress || networks.every((network) => network.egress)) return undefined;
  return segmentGateway(egress.subnet);
}

export class DefaultRouteError extends Error {}

/** Replaces the default route in the network namespace of process `pid` (a container's). */
export async function routeOutThrough(pid: number, gateway: string): Promise<void> {
  try {
    await run('nsenter', [
      `--target=${pid}`,
      '--net',
      '--',
      'ip',
      'route',
      'replace',
      'default',
      'via',
      gateway,
    ]);
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
    throw new DefaultRouteError(
      `could not route it out through its egress segment's gateway ${gateway}: ${detail} (the agent needs root, and nsenter and ip: apt-get install util-linux iproute2)`,
    );
  }
}
