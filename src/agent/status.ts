// What an agent reports about its node: every instance's process state and health, and
// (on a gateway) which route config Caddy is serving. Validated with zod wherever it is
// read back from the bus.
import { z } from 'zod';

export const instanceStatusSchema = z.object({
  id: z.string(),
  service: z.string(),
  state: z.enum(['waiting', 'starting', 'running', 'backoff', 'stopped', 'failed', 'exited']),
  /** Why it is waiting or failed, e.g. "waiting for postgres", "secret X not set". */
  reason: z.string().optional(),
  pid: z.number().int().optional(),
  healthy: z.boolean(),
  health_detail: z.string(),
  /** When `healthy` last changed (ms since epoch). */
  healthy_since: z.number(),
  started_at: z.number().optional(),
  restarts: z.number().int(),
  last_exit: z
    .object({ code: z.number().nullable(), signal: z.string().nullable(), at: z.number() })
    .optional(),
  ports: z.record(z.string(), z.number()),
  spec_hash: z.string(),
});

export const gatewayStatusSchema = z.object({
  /** Hash of the Caddy config being served; the hub compares it with what it wrote. */
  config_hash: z.string().optional(),
  error: z.string().optional(),
  ca_path: z.string().optional(),
});

export const nodeStatusSchema = z.object({
  node: z.string(),
  /** When the agent wrote this (ms since epoch): a stale entry means the node is down. */
  at: z.number(),
  agent_pid: z.number().int(),
  /** The desired-state revision this node has finished converging to. */
  desired_revision: z.number().int(),
  instances: z.array(instanceStatusSchema),
  gateway: gatewayStatusSchema.optional(),
});

export type InstanceStatus = z.infer<typeof instanceStatusSchema>;
export type NodeStatus = z.infer<typeof nodeStatusSchema>;
