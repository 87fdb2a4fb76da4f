// What the hub knows at the moment Prometheus scrapes it, as plain data: the one contract
// between the hub (which fills it from the agents' reports, the monitors, the backup
// records and the gateways) and the metrics endpoint (which only turns it into series).
// A snapshot is whole: what it leaves out (a removed instance, a deleted monitor) is gone
// from the next scrape. Times are ms since the epoch and durations ms, as everywhere else
// in Flotilla; the metrics convert them to Prometheus's seconds. Node resources and mesh round
// trips are the agents' metrics messages as they arrive (protocol/node-metrics.ts).
import type { PeerPingMetrics } from '../../protocol/node-metrics.ts';
import type { InstanceStatus } from '../../protocol/status.ts';
import type { MonitorKind } from '../monitoring/monitor-definitions.ts';
import type { MonitorStatus } from '../monitoring/monitor-tracker.ts';
import type { HostMetrics } from '../../system/host-metrics.ts';

export type InstanceState = InstanceStatus['state'];

export interface InstanceSnapshot {
  node: string;
  service: string;
  /** The instance id, e.g. api-1. */
  instance: string;
  state: InstanceState;
  healthy: boolean;
  /**
   * Restarts the agent counted for this instance. It may fall back to 0 (the agent or the
   * instance was replaced): Prometheus's rate()/increase() take such a drop as a reset.
   */
  restarts: number;
  /** How long the last health check took. */
  healthLatencyMs?: number;
  /** When the running process or container started. */
  startedAt?: number;
}

export interface NodeSnapshot {
  node: string;
  /** The node's agent reports (its status is not stale). */
  reachable: boolean;
  /** When its last report arrived. */
  lastReportAt?: number;
  /** The machine, from the agent's latest metrics message (absent: none, or /proc unreadable). */
  host?: HostMetrics;
  /** The agent's latest round trips to each mesh peer; no rttMs: the peer did not answer. */
  mesh: PeerPingMetrics[];
}

export interface BackupSnapshot {
  /** The backup job, named after its service. */
  job: string;
  /** The node it runs on. */
  node: string;
  lastSuccessAt?: number;
  lastFailureAt?: number;
  /** What the last successful run added to the repository. */
  lastSizeBytes?: number;
  lastDurationMs?: number;
  /** When it was last verified by restoring it, and whether that passed. */
  lastVerifyAt?: number;
  lastVerifyOk?: boolean;
}

/** Over how long a monitor's uptime is counted. */
export const UPTIME_WINDOWS = ['24h', '7d', '30d'] as const;
export type UptimeWindow = (typeof UPTIME_WINDOWS)[number];

export interface MonitorSnapshot {
  /** As `flotilla monitors` shows it, e.g. route:api.example.com or the stack file's name. */
  name: string;
  kind: MonitorKind;
  status: MonitorStatus;
  /** Of the last check. */
  latencyMs?: number;
  /** Share of checks that found it up, 0–1, per window that has history. */
  uptime?: Partial<Record<UptimeWindow, number>>;
  /** A route's TLS certificate: when it expires. */
  certificateExpiresAt?: number;
}

export interface RouteTrafficSnapshot {
  /** The route as `flotilla status` shows it (https://host/path), or the gateway's name for traffic it does not attribute to one route. */
  route: string;
  /** Requests answered since the gateway's Caddy started, by status class (2xx … 5xx). */
  requests: Partial<Record<string, number>>;
  /** Seconds spent answering those requests, in all (mean latency = this / requests). */
  durationSeconds?: number;
}

export interface GatewaySnapshot {
  /** The gateway node. */
  node: string;
  /** Counters read from Caddy's own metrics; they restart at 0 with Caddy. */
  routes: RouteTrafficSnapshot[];
}

export interface MetricsSnapshot {
  /** The stack's name: a label on every series. */
  stack: string;
  instances: InstanceSnapshot[];
  nodes: NodeSnapshot[];
  backups: BackupSnapshot[];
  monitors: MonitorSnapshot[];
  gateways: GatewaySnapshot[];
}
