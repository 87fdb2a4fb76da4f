// A realistic snapshot for the metrics tests: two reporting nodes and a lost one, replicas
// in several states, backups (one failing, one never verified), a monitor in each state,
// and a gateway's traffic. Times are fixed, so expected values can be written down.
import type { MetricsSnapshot } from '../../../src/hub/metrics/metrics-snapshot.ts';

export const NOW = Date.UTC(2026, 11, 1, 3, 0, 0);

export function clusterSnapshot(): MetricsSnapshot {
  return {
    stack: 'salem',
    instances: [
      {
        node: 'compute',
        service: 'api',
        instance: 'api-1',
        state: 'running',
        healthy: true,
        restarts: 2,
        healthLatencyMs: 12,
        startedAt: NOW - 3_600_000,
      },
      {
        node: 'compute',
        service: 'api',
        instance: 'api-2',
        state: 'backoff',
        healthy: false,
        restarts: 7,
      },
      {
        node: 'storage',
        service: 'postgres',
        instance: 'postgres-1',
        state: 'running',
        healthy: true,
        restarts: 0,
        healthLatencyMs: 3,
        startedAt: NOW - 86_400_000,
      },
      {
        node: 'edge',
        service: 'worker',
        instance: 'worker-1',
        state: 'waiting',
        healthy: false,
        restarts: 0,
      },
    ],
    nodes: [
      {
        node: 'compute',
        reachable: true,
        lastReportAt: NOW - 2_000,
        host: {
          cpuPercent: 37.5,
          memoryUsedBytes: 1_610_612_736,
          memoryTotalBytes: 4_294_967_296,
          diskUsedBytes: 21_474_836_480,
          diskTotalBytes: 85_899_345_920,
          load1: 0.42,
          load5: 0.35,
          load15: 0.3,
          uptimeSeconds: 1_209_600,
        },
        mesh: [
          { peer: 'storage', rttMs: 1.5 },
          { peer: 'edge', error: 'no reply' },
        ],
      },
      {
        node: 'storage',
        reachable: true,
        lastReportAt: NOW - 1_000,
        host: {
          cpuPercent: 5,
          memoryUsedBytes: 536_870_912,
          memoryTotalBytes: 2_147_483_648,
          diskUsedBytes: 10_737_418_240,
          diskTotalBytes: 42_949_672_960,
          load1: 0.05,
          load5: 0.04,
          load15: 0.01,
          uptimeSeconds: 240,
        },
        mesh: [
          { peer: 'compute', rttMs: 1.25 },
          { peer: 'edge', error: 'no reply' },
        ],
      },
      { node: 'edge', reachable: false, lastReportAt: NOW - 600_000, mesh: [] },
    ],
    backups: [
      {
        job: 'postgres',
        node: 'storage',
        lastSuccessAt: NOW - 3_600_000,
        lastFailureAt: NOW - 90_000_000,
        lastSizeBytes: 52_428_800,
        lastDurationMs: 4_500,
        lastVerifyAt: NOW - 1_800_000,
        lastVerifyOk: true,
      },
      { job: 'uploads', node: 'compute', lastFailureAt: NOW - 60_000 },
    ],
    monitors: [
      {
        name: 'route:api.example.com',
        kind: 'route',
        status: 'up',
        latencyMs: 85,
        uptime: { '24h': 1, '7d': 0.999, '30d': 0.9985 },
        certificateExpiresAt: NOW + 30 * 86_400_000,
      },
      { name: 'instance:api-2', kind: 'instance', status: 'pending', uptime: { '24h': 0.75 } },
      { name: 'node:edge', kind: 'node', status: 'down', uptime: { '24h': 0.5 } },
      { name: 'nightly-report', kind: 'heartbeat', status: 'maintenance' },
      { name: 'status-page', kind: 'http', status: 'unknown' },
    ],
    gateways: [
      {
        node: 'compute',
        routes: [
          {
            route: 'https://api.example.com/',
            requests: { '2xx': 1200, '4xx': 30, '5xx': 2 },
            durationSeconds: 61.5,
          },
        ],
      },
    ],
  };
}
