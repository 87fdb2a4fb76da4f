// What a node's network must look like, as the hub tells its agent inside its desired state:
// the WireGuard interface (address and the exact peer set; none on a tailnet, which
// Tailscale runs) and the node's nftables ruleset from plan. Computed by the hub
// (hub/node-network.ts), applied by the agent (agent/network-applier.ts).
import { z } from 'zod';

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
