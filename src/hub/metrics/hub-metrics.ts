// The hub's Prometheus metrics: every series Flotilla exposes, defined once with its type,
// unit and help, and filled from a MetricsSnapshot on each scrape. The registry is this
// object's own (never prom-client's global one), so two hubs in one process (the tests)
// never share series. Every scrape starts from empty series: what the snapshot no longer
// has (a removed instance, a deleted monitor) is gone from the output, not frozen at its
// last value. Times are exposed in seconds since the epoch and durations in seconds, as
// Prometheus expects; states are one 0/1 series per state, so `== 1` selects them.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { instanceStatusSchema } from '../../protocol/status.ts';
import type { PeerPingMetrics } from '../../protocol/node-metrics.ts';
import { MONITOR_STATUSES } from '../monitoring/monitor-tracker.ts';
import {
  UPTIME_WINDOWS,
  type BackupSnapshot,
  type InstanceSnapshot,
  type MetricsSnapshot,
  type MonitorSnapshot,
  type NodeSnapshot,
} from './metrics-snapshot.ts';

/** The hub process's own CPU, memory, event loop and GC series: flotilla_hub_process_… */
const PROCESS_PREFIX = 'flotilla_hub_';
/**
 * prom-client's gauges named like counters (promtool flags a gauge ending in _total): each is
 * the sum of the per-type series it sits beside (flotilla_hub_nodejs_active_handles{type}…).
 */
const MISNAMED_PROCESS_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

const INSTANCE_STATES = instanceStatusSchema.shape.state.options;

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
const bit = (value: boolean | undefined) => (value === undefined ? undefined : value ? 1 : 0);

type Peer = PeerPingMetrics & { node: string };

/** One metric with a value per entry of a snapshot list; an undefined value makes no series. */
interface Series<T> {
  name: string;
  help: string;
  /**
   * Counters that Flotilla did not count itself (an agent's restarts) are set to the
   * source's running total on each scrape. That total only grows, except when the source
   * starts over, which is exactly a counter reset to Prometheus (rate() and increase()
   * handle it): so a counter, not a gauge.
   */
  counter?: true;
  read: (entry: T) => number | undefined;
}

/** The series of one kind of entry (instances, nodes…), sharing their labels. */
class Family<T, L extends string> {
  private readonly metrics: [Gauge<L> | Counter<L>, Series<T>['read']][];

  constructor(
    registry: Registry,
    private readonly labels: (entry: T) => Record<L, string>,
    labelNames: readonly L[],
    series: Series<T>[],
  ) {
    this.metrics = series.map(({ name, help, counter, read }) => {
      const config = { name, help, labelNames, registers: [registry] };
      return [counter ? new Counter<L>(config) : new Gauge<L>(config), read];
    });
  }

  fill(entries: readonly T[]): void {
    for (const [metric] of this.metrics) metric.reset();
    for (const entry of entries)
      for (const [metric, read] of this.metrics) {
        const value = read(entry);
        if (value === undefined) continue;
        // A reset counter takes its total as one increment.
        if (metric instanceof Counter) metric.inc(this.labels(entry), value);
        else metric.set(this.labels(entry), value);
      }
  }
}

/** A 0/1 gauge per state of each entry, `state` labelling which: the Prometheus way to a state. */
class StateSet<T, L extends string> {
  private readonly gauge: Gauge<L | 'state'>;

  constructor(
    registry: Registry,
    name: string,
    help: string,
    private readonly labels: (entry: T) => Record<L, string>,
    labelNames: readonly L[],
    private readonly states: readonly string[],
    private readonly current: (entry: T) => string,
  ) {
    this.gauge = new Gauge({
      name,
      help,
      labelNames: [...labelNames, 'state'],
      registers: [registry],
    });
  }

  fill(entries: readonly T[]): void {
    this.gauge.reset();
    for (const entry of entries)
      for (const state of this.states)
        this.gauge.set({ ...this.labels(entry), state }, state === this.current(entry) ? 1 : 0);
  }
}

// Not `instance` and `job`: Prometheus gives every scraped series those two labels (the
// target's address, the scrape job) and renames a series' own to exported_instance and
// exported_job, which no query would expect.
const instanceLabels = ({ node, service, instance }: InstanceSnapshot) => ({
  node,
  service,
  instance_id: instance,
});
const INSTANCE_LABELS = ['node', 'service', 'instance_id'] as const;
const monitorLabels = ({ name, kind }: MonitorSnapshot) => ({ monitor: name, kind });
const MONITOR_LABELS = ['monitor', 'kind'] as const;

export class HubMetrics {
  readonly registry = new Registry();

  private readonly instances = new Family<InstanceSnapshot, (typeof INSTANCE_LABELS)[number]>(
    this.registry,
    instanceLabels,
    INSTANCE_LABELS,
    [
      {
        name: 'flotilla_instance_up',
        help: 'Whether the instance is running (1) or not (0): waiting, starting, backoff, stopped, failed or exited',
        read: (instance) => bit(instance.state === 'running'),
      },
      {
        name: 'flotilla_instance_healthy',
        help: 'Whether the instance passes its health check (1) or not (0); unhealthy instances get no traffic',
        read: (instance) => bit(instance.healthy),
      },
      {
        name: 'flotilla_instance_restarts_total',
        help: 'Restarts of the instance counted by its agent (back to 0 when the instance is replaced)',
        counter: true,
        read: (instance) => instance.restarts,
      },
      {
        name: 'flotilla_instance_health_check_duration_seconds',
        help: "How long the instance's last health check took",
        read: (instance) => seconds(instance.healthLatencyMs),
      },
      {
        name: 'flotilla_instance_start_time_seconds',
        help: "When the instance's process or container started, in seconds since the epoch",
        read: (instance) => seconds(instance.startedAt),
      },
    ],
  );
  private readonly instanceStates = new StateSet(
    this.registry,
    'flotilla_instance_state',
    "The instance's state as its agent reports it: 1 for the current state, 0 for the others",
    instanceLabels,
    INSTANCE_LABELS,
    INSTANCE_STATES,
    (instance: InstanceSnapshot) => instance.state,
  );

  private readonly nodes = new Family<NodeSnapshot, 'node'>(
    this.registry,
    ({ node }) => ({ node }),
    ['node'],
    [
      {
        name: 'flotilla_node_up',
        help: "Whether the node's agent reports to the hub (1) or its status is stale (0)",
        read: (node) => bit(node.reachable),
      },
      {
        name: 'flotilla_node_last_report_timestamp_seconds',
        help: "When the node's last status report reached the hub, in seconds since the epoch",
        read: (node) => seconds(node.lastReportAt),
      },
      {
        name: 'flotilla_node_cpu_usage_ratio',
        help: "The node's CPU busy time over its last sampling interval, 0 to 1 (all cores together)",
        read: (node) => (node.host === undefined ? undefined : node.host.cpuPercent / 100),
      },
      {
        name: 'flotilla_node_memory_used_bytes',
        help: "The node's memory in use (total minus available)",
        read: (node) => node.host?.memoryUsedBytes,
      },
      {
        name: 'flotilla_node_memory_total_bytes',
        help: "The node's memory",
        read: (node) => node.host?.memoryTotalBytes,
      },
      {
        name: 'flotilla_node_disk_used_bytes',
        help: "Used space on the file system holding the node's Flotilla data",
        read: (node) => node.host?.diskUsedBytes,
      },
      {
        name: 'flotilla_node_disk_total_bytes',
        help: "Size of the file system holding the node's Flotilla data",
        read: (node) => node.host?.diskTotalBytes,
      },
      {
        name: 'flotilla_node_load1',
        help: "The node's 1-minute load average",
        read: (node) => node.host?.load1,
      },
      {
        name: 'flotilla_node_load5',
        help: "The node's 5-minute load average",
        read: (node) => node.host?.load5,
      },
      {
        name: 'flotilla_node_load15',
        help: "The node's 15-minute load average",
        read: (node) => node.host?.load15,
      },
      {
        name: 'flotilla_node_uptime_seconds',
        help: 'How long the node had been up at its latest report (a small value: it rebooted)',
        read: (node) => node.host?.uptimeSeconds,
      },
    ],
  );

  private readonly mesh = new Family<Peer, 'node' | 'peer'>(
    this.registry,
    ({ node, peer }) => ({ node, peer }),
    ['node', 'peer'],
    [
      {
        name: 'flotilla_mesh_peer_up',
        help: "Whether the node's last probe of the peer over the mesh got an answer (1) or not (0)",
        read: (peer) => bit(peer.rttMs !== undefined),
      },
      {
        name: 'flotilla_mesh_rtt_seconds',
        help: "Round-trip time of the node's last answered probe of the peer over the mesh",
        read: (peer) => seconds(peer.rttMs),
      },
    ],
  );

  private readonly backups = new Family<BackupSnapshot, 'backup_job' | 'node'>(
    this.registry,
    ({ job, node }) => ({ backup_job: job, node }),
    ['backup_job', 'node'],
    [
      {
        name: 'flotilla_backup_last_success_timestamp_seconds',
        help: "When the backup job's last successful run ended, in seconds since the epoch",
        read: (backup) => seconds(backup.lastSuccessAt),
      },
      {
        name: 'flotilla_backup_last_failure_timestamp_seconds',
        help: "When the backup job's last failed run ended, in seconds since the epoch",
        read: (backup) => seconds(backup.lastFailureAt),
      },
      {
        name: 'flotilla_backup_last_size_bytes',
        help: "What the backup job's last successful run added to its repository",
        read: (backup) => backup.lastSizeBytes,
      },
      {
        name: 'flotilla_backup_last_duration_seconds',
        help: "How long the backup job's last successful run took",
        read: (backup) => seconds(backup.lastDurationMs),
      },
      {
        name: 'flotilla_backup_last_verify_timestamp_seconds',
        help: "When the backup job's latest snapshot was last verified by a restore, in seconds since the epoch",
        read: (backup) => seconds(backup.lastVerifyAt),
      },
      {
        name: 'flotilla_backup_last_verify_success',
        help: "Whether the backup job's last verify restored and checked its snapshot (1) or failed (0)",
        read: (backup) => bit(backup.lastVerifyOk),
      },
    ],
  );

  private readonly monitors = new Family<MonitorSnapshot, (typeof MONITOR_LABELS)[number]>(
    this.registry,
    monitorLabels,
    MONITOR_LABELS,
    [
      {
        name: 'flotilla_monitor_up',
        help: 'Whether the monitor is up (1) or not (0: pending, down, in maintenance or not checked yet)',
        read: (monitor) => bit(monitor.status === 'up'),
      },
      {
        name: 'flotilla_monitor_latency_seconds',
        help: "How long the monitor's last check took",
        read: (monitor) => seconds(monitor.latencyMs),
      },
    ],
  );
  private readonly monitorStates = new StateSet(
    this.registry,
    'flotilla_monitor_state',
    "The monitor's state (up, pending, down, maintenance, unknown): 1 for the current one, 0 for the others",
    monitorLabels,
    MONITOR_LABELS,
    MONITOR_STATUSES,
    (monitor: MonitorSnapshot) => monitor.status,
  );
  private readonly certificates = new Family<MonitorSnapshot, 'monitor'>(
    this.registry,
    ({ name }) => ({ monitor: name }),
    ['monitor'],
    [
      {
        name: 'flotilla_certificate_expiry_timestamp_seconds',
        help: 'When the TLS certificate a route monitor found expires, in seconds since the epoch',
        read: (monitor) => seconds(monitor.certificateExpiresAt),
      },
    ],
  );
  private readonly monitorUptime = new Gauge({
    name: 'flotilla_monitor_uptime_ratio',
    help: 'Share of the checks that found the monitor up over the window (24h, 7d, 30d), 0 to 1',
    labelNames: [...MONITOR_LABELS, 'window'],
    registers: [this.registry],
  });

  // Caddy's running totals, set on each scrape: counters for the reason given at Series.
  private readonly gatewayRequests = new Counter({
    name: 'flotilla_gateway_requests_total',
    help: 'Requests the gateway answered for the route since the gateway agent started (only with monitoring.route_metrics), by status class (2xx, 3xx, 4xx, 5xx)',
    labelNames: ['node', 'route', 'status_class'],
    registers: [this.registry],
  });
  private readonly gatewayDuration = new Counter({
    name: 'flotilla_gateway_request_duration_seconds_total',
    help: "Seconds the gateway spent answering the route's requests since the gateway agent started (only with monitoring.route_metrics); mean latency: its rate over the requests' rate",
    labelNames: ['node', 'route'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: PROCESS_PREFIX });
    for (const name of MISNAMED_PROCESS_GAUGES)
      this.registry.removeSingleMetric(`${PROCESS_PREFIX}${name}`);
  }

  /** The Content-Type of what `render` returns (Prometheus's text format). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The exposition text for `snapshot`. Filling and reading happen in one synchronous step
   * (the fed metrics have no collect callbacks), so concurrent scrapes never mix snapshots.
   */
  render(snapshot: MetricsSnapshot): Promise<string> {
    this.fill(snapshot);
    return this.registry.metrics();
  }

  /** Every fed series from `snapshot`, after emptying them: what it lacks is gone. */
  private fill(snapshot: MetricsSnapshot): void {
    this.registry.setDefaultLabels({ stack: snapshot.stack });
    this.instances.fill(snapshot.instances);
    this.instanceStates.fill(snapshot.instances);
    this.nodes.fill(snapshot.nodes);
    this.mesh.fill(
      snapshot.nodes.flatMap(({ node, mesh }) => mesh.map((peer) => ({ ...peer, node }))),
    );
    this.backups.fill(snapshot.backups);
    this.monitors.fill(snapshot.monitors);
    this.monitorStates.fill(snapshot.monitors);
    this.certificates.fill(snapshot.monitors);

    this.monitorUptime.reset();
    for (const monitor of snapshot.monitors)
      for (const window of UPTIME_WINDOWS) {
        const ratio = monitor.uptime?.[window];
        if (ratio !== undefined)
          this.monitorUptime.set({ ...monitorLabels(monitor), window }, ratio);
      }

    this.gatewayRequests.reset();
    this.gatewayDuration.reset();
    for (const { node, routes } of snapshot.gateways)
      for (const { route, requests, durationSeconds } of routes) {
        for (const [statusClass, count] of Object.entries(requests))
          if (count !== undefined)
            this.gatewayRequests.inc({ node, route, status_class: statusClass }, count);
        if (durationSeconds !== undefined)
          this.gatewayDuration.inc({ node, route }, durationSeconds);
      }
  }
}
