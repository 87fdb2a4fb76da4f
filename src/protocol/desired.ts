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

/** An SRV name of the gateway's upstream zone (plan/caddy.ts upstreamName). */
const upstreamNameSchema = z.string().regex(/^([a-z0-9_-]{1,63}\.)+flotilla\.$/);
/** An instance as the gateway dials it: IPv4 address and port. */
const dialSchema = z
  .string()
  .regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}:\d{1,5}$/)
  .refine((dial) => Number(dial.split(':')[1]) <= 65_535, 'a port above 65535');

export const gatewayValueSchema = z.object({
  /** Of `config` and `upstreams`: what the agent reports serving. */
  hash: z.string(),
  /** Routes and TLS: loaded into Caddy (a reload) only when it changes. */
  config: z.unknown(),
  /**
   * The healthy instances of each route's SRV name, in the order Caddy takes them. They
   * change with every health report: the gateway's DNS responder answers them, no reload.
   */
  upstreams: z.record(upstreamNameSchema, z.array(dialSchema)).default({}),
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
