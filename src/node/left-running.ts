// What `flotilla down` leaves running on purpose on each node of a cluster: the mesh
// interface (so a later `up` rejoins without new keys or tokens) and the firewall table (so
// the node is not left wide open once its services stop). The hub says it in its answer to
// the down request; the CLI prints it with the command that removes it (`node leave`).
import { z } from 'zod';
import type { NodeNetwork } from '../protocol/node-network.ts';

/** The nftables table the node's firewall lives in (plan/firewall.ts writes it). */
export const FIREWALL_TABLE = { family: 'inet', name: 'flotilla' } as const;

export const leftRunningSchema = z.object({
  node: z.string(),
  /** The WireGuard interface; absent on a tailnet (Tailscale's, not Flotilla's). */
  interface: z.string().optional(),
  /** `inet flotilla` when the node has a firewall. */
  firewall: z.string().optional(),
  /** The node's state dir, for `flotilla node leave --state-dir`. */
  state_dir: z.string().optional(),
});
export type LeftRunning = z.infer<typeof leftRunningSchema>;

/** One node's leftovers from the network the hub gave it; undefined when there are none. */
export function leftOnNode(
  node: string,
  network: NodeNetwork,
  stateDir: string | undefined,
): LeftRunning | undefined {
  const left: LeftRunning = {
    node,
    ...(network.mesh && { interface: network.mesh.interface }),
    ...(network.firewall !== '' && {
      firewall: `${FIREWALL_TABLE.family} ${FIREWALL_TABLE.name}`,
    }),
    ...(stateDir !== undefined && { state_dir: stateDir }),
  };
  return left.interface === undefined && left.firewall === undefined ? undefined : left;
}

/** What `down` prints after "stack X is down": nothing when nothing was left. */
export function leftRunningLines(left: readonly LeftRunning[]): string[] {
  if (left.length === 0) return [];
  return [
    'left running on purpose (a later up reuses them; the firewall keeps the node closed):',
    ...left.flatMap((entry) => {
      const parts = [
        ...(entry.interface === undefined ? [] : [`mesh interface ${entry.interface}`]),
        ...(entry.firewall === undefined ? [] : [`firewall table ${entry.firewall}`]),
      ];
      const where = entry.state_dir === undefined ? '' : ` --state-dir ${entry.state_dir}`;
      return [
        `  ${entry.node}: ${parts.join(', ')}`,
        `    remove them on ${entry.node} with: flotilla node leave${where}`,
      ];
    }),
  ];
}
