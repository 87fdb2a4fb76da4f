// The bodies of what the hub sends a node, each inside a message signed for that node
// (signing.ts): its desired state, its gateway's route config, and the directory of which
// services it depends on are healthy somewhere in the cluster.
import { z } from 'zod';
import { nodeNetworkSchema } from './node-network.ts';
import { desiredNodeSchema } from '../plan/desired.ts';
import type { StateKind } from './signing.ts';

export const desiredValueSchema = z.object({
  stack: z.string(),
  node: desiredNodeSchema,
  /** The secrets this node's instances use, each sealed (age) to this node's key. */
  secrets: z.record(z.string(), z.string()).default({}),
  /** In a cluster: this node's mesh interface and firewall. */
  network: nodeNetworkSchema.optional(),
  /** The backup jobs this node runs, each resolved (with its secrets) and sealed to it. */
  backups: z.array(z.string()).default([]),
});
export type DesiredValue = z.infer<typeof desiredValueSchema>;

export const gatewayValueSchema = z.object({
  /** Of `config` alone: what the agent reports serving. */
  hash: z.string(),
  config: z.unknown(),
  /**
   * host:port upstreams on lost nodes: requests in flight to them would hang until the
   * client gives up, so the gateway cuts those connections and Caddy retries elsewhere.
   */
  abandon: z.array(z.string()).default([]),
});
export type GatewayValue = z.infer<typeof gatewayValueSchema>;

/**
 * What a node needs to know of the rest of the cluster: which of the services its
 * instances depend on have a healthy instance somewhere. Small, and sent only when it
 * changes, so no node reads (or reacts to) another node's reports.
 */
export const directoryValueSchema = z.strictObject({
  healthy: z.array(z.string()),
});
export type DirectoryValue = z.infer<typeof directoryValueSchema>;

export const stateBodySchemas = {
  desired: desiredValueSchema,
  gateway: gatewayValueSchema,
  directory: directoryValueSchema,
} satisfies Record<StateKind, z.ZodType>;
