// What a node's network must look like, as the hub tells its agent: the WireGuard interface
// (address and the exact peer set: every other member of the cluster; none on a tailnet,
// which Tailscale runs) and the node's nftables ruleset from plan. Computed by the hub because the peers' keys and endpoints are only known
// once nodes have joined; applied by the agent (src/agent/network-applier.ts).
import { z } from 'zod';
import type { Member } from '../hub/members.ts';
import { meshInterfaceName, meshListenPort } from '../plan/mesh-interface.ts';
import type { Plan } from '../plan/plan.ts';
import { urlHost } from '../spec/formats.ts';
import type { Stack } from '../spec/schema.ts';

const wireguardMeshSchema = z.object({
  interface: z.string().regex(/^[A-Za-z0-9_=+.-]{1,15}$/),
  /** The node's mesh address with the mesh's prefix: the whole mesh routes into the interface. */
  address: z.string(),
  listen_port: z.number().int().min(1).max(65535),
  peers: z.array(
    z.object({
      node: z.string(),
      public_key: z.string(),
      endpoint: z.string(),
      allowed_ips: z.array(z.string()),
    }),
  ),
});

export const nodeNetworkSchema = z.object({
  /** Absent with mesh.provider tailscale. */
  mesh: wireguardMeshSchema.optional(),
  /** An `nft -f` script replacing table inet flotilla. */
  firewall: z.string(),
});
export type NodeNetwork = z.infer<typeof nodeNetworkSchema>;

/** `node`'s network, its peers being the other members that are still nodes of the stack. */
export function nodeNetwork(
  stack: Stack,
  plan: Plan,
  members: readonly (readonly [string, Member])[],
  node: string,
): NodeNetwork {
  const self = plan.nodes[node];
  if (!self) throw new Error(`node ${node} is not in the stack`);
  const firewall = plan.firewall[node] ?? '';
  if (stack.mesh.provider === 'tailscale') return { firewall };
  const prefix = stack.mesh.cidr.split('/')[1];
  const port = meshListenPort(stack);
  return {
    mesh: {
      interface: meshInterfaceName(stack, node),
      address: `${self.mesh_address}/${prefix}`,
      listen_port: port,
      peers: members
        .filter(([peer]) => peer !== node && plan.nodes[peer] !== undefined)
        .map(([peer, member]) => ({
          node: peer,
          public_key: member.wireguard_key,
          endpoint: `${urlHost(member.endpoint)}:${port}`,
          allowed_ips: [`${plan.nodes[peer]!.mesh_address}/32`],
        })),
    },
    firewall,
  };
}
