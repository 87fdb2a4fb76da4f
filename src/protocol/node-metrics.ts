// What an agent measures of its node every NODE_METRICS_EVERY_MS and publishes on
// `flotilla.hub.metrics.<node>`: the machine (CPU, memory, disk, load, uptime), the round
// trip to each mesh peer, its instances and, on a gateway, each route's requests. Apart from the status report on purpose: the
// status goes out when something changes and is hashed for heartbeats, while these numbers
// change every time. Small (about 1.5 KB for 10 peers and 20 instances); the node is the
// subject's, never a field.
import { z } from 'zod';
import type { HostMetrics } from '../system/host-metrics.ts';

export const NODE_METRICS_EVERY_MS = 15_000;

const bytes = z.number().nonnegative();

export const hostMetricsSchema = z.object({
  cpuPercent: z.number().min(0).max(100),
  memoryUsedBytes: bytes,
  memoryTotalBytes: bytes,
  diskUsedBytes: bytes,
  diskTotalBytes: bytes,
  load1: z.number().nonnegative(),
  load5: z.number().nonnegative(),
  load15: z.number().nonnegative(),
  uptimeSeconds: z.number().nonnegative(),
}) satisfies z.ZodType<HostMetrics>;

export const peerPingSchema = z.object({
  /** The peer node. */
  peer: z.string(),
  rttMs: z.number().nonnegative().optional(),
  /** Why there is no round trip: no reply, unreachable, … */
  error: z.string().max(200).optional(),
});

export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

const count = z.number().int().nonnegative();

/** A route's traffic through this gateway since its agent started (agent/gateway/route-traffic.ts). */
export const routeTrafficSchema = z.object({
  /** As `flotilla status` shows it (https://host/path), or `unrouted`. */
  route: z.string().max(2_100),
  /** Requests answered, by status class. */
  requests: z.partialRecord(z.enum(STATUS_CLASSES), count),
  /** Seconds spent answering them, in all. */
  duration_seconds: z.number().nonnegative(),
});

export const nodeMetricsSchema = z.object({
  /** When the agent measured (ms since epoch, its clock). */
  at: z.number(),
  /** Absent when the node's /proc could not be read; `host_error` says why. */
  host: hostMetricsSchema.optional(),
  host_error: z.string().max(200).optional(),
  /** Empty on a single node and on a tailnet (Tailscale has its own `tailscale ping`). */
  mesh: z.array(peerPingSchema).max(1_000),
  /**
   * The instances the node runs. `health_latency_ms` is for the latest health probe's
   * duration, which the health monitor does not keep yet: agents leave it out for now.
   */
  instances: z
    .array(z.object({ id: z.string(), health_latency_ms: z.number().nonnegative().optional() }))
    .max(10_000),
  /** Gateway nodes only. Optional: a hub older than this field ignores it. */
  routes: z.array(routeTrafficSchema).max(1_000).optional(),
});
export type NodeMetrics = z.infer<typeof nodeMetricsSchema>;
export type PeerPingMetrics = z.infer<typeof peerPingSchema>;
export type RouteTrafficMetrics = z.infer<typeof routeTrafficSchema>;
