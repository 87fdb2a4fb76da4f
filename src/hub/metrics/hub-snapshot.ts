// The metrics snapshot filled from what the hub holds at scrape time: the agents' reports
// and measurements (each gateway's route traffic among them), the monitors' states and
// figures, each backup job's last runs.
import type { Hub } from '../hub.ts';
import type { MonitoringService } from '../monitoring/monitoring-service.ts';
import type { MetricsSnapshot } from './metrics-snapshot.ts';

export function hubSnapshot(hub: Hub, monitoring: MonitoringService): MetricsSnapshot {
  const lost = hub.lostNodes();
  const statuses = hub.nodeStatuses();
  const metrics = hub.nodeMetrics();
  const nodes = Object.keys(hub.stack?.nodes ?? {});
  const latencies = new Map(
    [...metrics.values()].flatMap((node) =>
      node.instances.flatMap((instance) =>
        instance.health_latency_ms === undefined ? [] : [[instance.id, instance.health_latency_ms]],
      ),
    ),
  );
  return {
    stack: hub.stack?.name ?? '',
    instances: [...statuses.values()].flatMap((status) =>
      status.instances.map((instance) => ({
        node: status.node,
        service: instance.service,
        instance: instance.id,
        state: instance.state,
        healthy: instance.healthy,
        restarts: instance.restarts,
        ...(latencies.has(instance.id) ? { healthLatencyMs: latencies.get(instance.id)! } : {}),
        ...(instance.started_at === undefined ? {} : { startedAt: instance.started_at }),
      })),
    ),
    nodes: nodes.map((node) => {
      const measured = metrics.get(node);
      const report = statuses.get(node);
      return {
        node,
        reachable: report !== undefined && !lost.has(node),
        ...(report === undefined ? {} : { lastReportAt: report.at }),
        ...(measured?.host === undefined ? {} : { host: measured.host }),
        mesh: measured?.mesh ?? [],
      };
    }),
    backups: monitoring.backupJobs().map(({ job, node, record }) => ({
      job,
      node,
      ...(record.lastSuccessAt === undefined ? {} : { lastSuccessAt: record.lastSuccessAt }),
      ...(record.lastFailureAt === undefined ? {} : { lastFailureAt: record.lastFailureAt }),
      ...(record.lastBytes === undefined ? {} : { lastSizeBytes: record.lastBytes }),
      ...(record.lastDurationMs === undefined ? {} : { lastDurationMs: record.lastDurationMs }),
      ...(record.lastVerifyAt === undefined ? {} : { lastVerifyAt: record.lastVerifyAt }),
      ...(record.lastVerifyAt === undefined && record.lastVerifyFailedAt === undefined
        ? {}
        : { lastVerifyOk: (record.lastVerifyAt ?? 0) > (record.lastVerifyFailedAt ?? 0) }),
    })),
    monitors: monitoring.list().map((monitor) => ({
      name: monitor.name,
      kind: monitor.kind,
      status: monitor.status,
      ...(monitor.latencyMs === undefined ? {} : { latencyMs: monitor.latencyMs }),
      uptime: Object.fromEntries(
        Object.entries(monitor.uptime).filter(([, value]) => value !== undefined),
      ),
      ...(monitor.certificateExpiresAt === undefined
        ? {}
        : { certificateExpiresAt: monitor.certificateExpiresAt }),
    })),
    // Counted by each gateway's agent from Caddy's access log, since that agent started.
    gateways: [...metrics].flatMap(([node, measured]) =>
      measured.routes === undefined
        ? []
        : [
            {
              node,
              routes: measured.routes.map((route) => ({
                route: route.route,
                requests: route.requests,
                durationSeconds: route.duration_seconds,
              })),
            },
          ],
    ),
  };
}
