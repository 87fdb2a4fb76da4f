// The zod schemas of what the hub API answers, for the answers whose types live elsewhere
// (the status report, an apply, monitors, releases, backups): the handlers are typed against
// them and the OpenAPI document is generated from them, so the document says what the hub
// really returns (test/hub/api/responses.test.ts checks a running daemon's answers).
import { z } from 'zod';
import { backupEventSchema } from '../../backup/events.ts';
import { deployLockSchema } from '../../bus/release-store.ts';
import { busEventSchema } from '../../protocol/events.ts';
import { instanceStatusSchema } from '../../protocol/status.ts';
import { releaseSchema } from '../../release/release-record.ts';
import { MONITOR_STATUSES } from '../monitoring/monitor-tracker.ts';
import { recentResultSchema } from '../monitoring/uptime-stats.ts';

export const routeReportSchema = z.object({
  url: z.string(),
  service: z.string(),
  healthy: z.number().int(),
  total: z.number().int(),
});

export const statusReportSchema = z
  .object({
    stack: z.string(),
    nodes: z.record(z.string(), z.object({ up: z.boolean(), reported_at: z.number().nullable() })),
    instances: z.array(instanceStatusSchema.extend({ node: z.string() })),
    routes: z.array(routeReportSchema),
    gateways: z.record(
      z.string(),
      z.object({
        in_sync: z.boolean(),
        error: z.string().optional(),
        ca_path: z.string().optional(),
      }),
    ),
    ready: z.boolean(),
  })
  .nullable()
  .meta({ description: 'null until a stack is applied' });

const trafficSchema = z.record(
  z.string(),
  z.object({ messages: z.number().int(), bytes: z.number().int() }),
);
export const busTrafficSchema = z.object({ received: trafficSchema, sent: trafficSchema });

export const applyResultSchema = z.object({
  changes: z.array(
    z.object({
      node: z.string(),
      instance: z.string(),
      change: z.enum(['add', 'remove', 'update']),
    }),
  ),
  notes: z.array(z.string()),
});

export const logLinesSchema = z.object({ lines: z.array(z.string()) });

export const eventsStream = { event: busEventSchema };
export const logStream = { lines: z.array(z.string()) };

/** A backup run or verify: the run's event; a restore: what was done. */
export const backupAnswerSchema = z.union([
  z.object({ event: backupEventSchema }),
  z.object({ restored: z.string(), safety: z.string().optional() }),
]);

export const backupJobSchema = z.object({
  job: z.string(),
  node: z.string().meta({ description: 'empty when no node runs it (not scheduled)' }),
  schedule: z.object({ cron: z.string(), timezone: z.string() }),
  status: z.enum(MONITOR_STATUSES),
  detail: z.string().optional(),
  last_success_at: z.number().optional(),
  last_failure_at: z.number().optional(),
  last_error: z.string().optional(),
  last_verify_at: z.number().optional(),
  last_verify_failed_at: z.number().optional(),
  verify_error: z.string().optional(),
  last_bytes_added: z.number().optional(),
  last_duration_ms: z.number().optional(),
});

export const monitorViewSchema = z.object({
  name: z.string(),
  kind: z.enum(['route', 'instance', 'node', 'disk', 'mesh', 'backup', 'http', 'tcp', 'heartbeat']),
  status: z.enum(MONITOR_STATUSES),
  since: z.number().optional(),
  detail: z.string().optional(),
  checkedAt: z.number().optional(),
  latencyMs: z.number().optional(),
  certificateExpiresAt: z.number().optional(),
  node: z.string().optional(),
  service: z.string().optional(),
  uptime: z.object({
    '24h': z.number().optional(),
    '7d': z.number().optional(),
    '30d': z.number().optional(),
  }),
  latency: z
    .object({ p50: z.number(), p95: z.number(), p99: z.number(), count: z.number().int() })
    .optional(),
  recent: z.array(recentResultSchema),
  push: z
    .object({ healthchecks: z.string(), kuma: z.string() })
    .optional()
    .meta({ description: 'heartbeat ping URLs (with their tokens): only with ?urls=1' }),
});

export const releasesAnswerSchema = z.object({
  service: z.string(),
  current: z.number().int().nullable(),
  releases: z.array(releaseSchema.extend({ running: z.array(z.string()) })),
  lock: deployLockSchema.nullable(),
});

export const deployFailureSchema = z.object({
  step: z.string(),
  error: z.string(),
  node: z.string().optional(),
  instance: z.string().optional(),
  output: z.array(z.string()).optional(),
  hint: z.string().optional(),
});

export const deployStream = {
  step: z.string(),
  done: z.unknown(),
  failed: deployFailureSchema,
};
