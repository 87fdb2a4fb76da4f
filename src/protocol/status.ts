// What an agent reports about its node: every instance's process state and health, (on a
// gateway) which route config Caddy is serving, and what it refused to act on. A full report
// goes out when something in it changes; in between, a small heartbeat says the node is alive
// and which revisions it holds. The hub takes the node from the subject, never from the value.
import { z } from 'zod';
import { configHash } from '../state/config-hash.ts';

/** How many refusals a status keeps: enough to see a pattern, small enough to send often. */
export const MAX_REFUSALS = 5;

export const containerStatusSchema = z.object({
  id: z.string(),
  /** The image id (`sha256:…`) the container runs. */
  image_id: z.string(),
  /** `repository@sha256:…` when the image came from a registry. */
  image_digest: z.string().optional(),
  /** The last exit was the kernel's OOM killer (over `memory`). */
  oom_killed: z.boolean().optional(),
  /** The image's own HEALTHCHECK as the engine reports it, when it has one. */
  engine_health: z.enum(['starting', 'healthy', 'unhealthy']).optional(),
});
export type ContainerStatus = z.infer<typeof containerStatusSchema>;

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
  /** The release it runs (deployed process services). */
  release: z.number().int().positive().optional(),
  /** Image services: the container and the exact image it runs. */
  container: containerStatusSchema.optional(),
});

export const gatewayStatusSchema = z.object({
  /** Hash of the Caddy config being served; the hub compares it with what it wrote. */
  config_hash: z.string().optional(),
  error: z.string().optional(),
  ca_path: z.string().optional(),
});

export const refusalSchema = z.object({
  /** What was refused: a kind of message from the hub, or a saved desired state. */
  what: z.string(),
  reason: z.string(),
  at: z.number(),
});

export const nodeStatusSchema = z.object({
  /** Must be the node of the subject it arrives on: a mismatch is refused. */
  node: z.string(),
  /** When the agent wrote this (ms since epoch); the hub keeps its own arrival time. */
  at: z.number(),
  agent_pid: z.number().int(),
  /** The desired-state revision this node has finished converging to. */
  desired_revision: z.number().int(),
  instances: z.array(instanceStatusSchema),
  gateway: gatewayStatusSchema.optional(),
  /** The last few messages the agent refused (newest last). */
  refused: z.array(refusalSchema).max(MAX_REFUSALS).default([]),
});

/** Between full reports: alive, and which of the hub's messages this node holds. */
export const heartbeatSchema = z.strictObject({
  /** Of the node's last full report: the hub asks for it again when its copy differs. */
  status_hash: z.string(),
  /** The revision of each kind of hub message the agent accepted last (0: none). */
  held: z.strictObject({
    desired: z.number().int().nonnegative(),
    gateway: z.number().int().nonnegative(),
    directory: z.number().int().nonnegative(),
  }),
});

export type InstanceStatus = z.infer<typeof instanceStatusSchema>;
export type NodeStatus = z.infer<typeof nodeStatusSchema>;
export type Refusal = z.infer<typeof refusalSchema>;
export type Heartbeat = z.infer<typeof heartbeatSchema>;

/**
 * Of a report as sent, without its time: the agent puts it in its heartbeat, the hub
 * compares it with the report it holds (hashed as received, not as a schema rebuilt it).
 */
export function reportHash(report: object): string {
  return configHash({ ...report, at: 0 });
}
