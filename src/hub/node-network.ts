// Each node's network as the hub computes it: the peers' keys and endpoints are known only
// once nodes have joined, so this is the hub's part, not plan's.
import type { Member } from './members.ts';
import { meshInterfaceName, meshListenPort } from '../plan/mesh-interface.ts';
import type { Plan } from '../plan/plan.ts';
import type { NodeNetwork } from '../protocol/node-network.ts';
import { urlHost } from '../spec/formats.ts';
import type { Stack } from '../spec/schema.ts';

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
