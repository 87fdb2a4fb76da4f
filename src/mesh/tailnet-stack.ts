// With `mesh.provider: tailscale`, Tailscale hands out the mesh addresses: every node found
// in the tailnet gets its tailnet address pinned, so placement, discovery, routes, firewall
// and ACL are all computed with the addresses the nodes really have.
import type { Stack } from '../spec/schema.ts';
import {
  tailscaleMeshAddresses,
  type TailscaleDevice,
  type TailscaleMeshAddresses,
} from './tailscale.ts';

export function withTailnetAddresses(
  stack: Stack,
  devices: readonly TailscaleDevice[],
): { stack: Stack; mapping: TailscaleMeshAddresses } {
  const mapping = tailscaleMeshAddresses(stack.nodes, devices);
  const nodes = Object.fromEntries(
    Object.entries(stack.nodes).map(([name, node]) => {
      const address = mapping.addresses[name];
      return [name, address === undefined ? node : { ...node, mesh_address: address }];
    }),
  );
  return { stack: { ...stack, nodes }, mapping };
}
