// The hub API's monitoring endpoints: every monitor's state and figures (what `flotilla
// monitors` shows), heartbeat ping URLs (they hold their tokens: asked for on purpose), the
// backup jobs with what the hub heard of their runs and verifies, and a real test message to
// one or every alert channel (`flotilla alerts test`).
import { z } from 'zod';
import type { Stack } from '../../spec/schema.ts';
import { backupJobSchema, monitorViewSchema } from '../api/answers.ts';
import { ApiError, defineRoute, type ApiRoute } from '../api/api-route.ts';
import { UnknownAlertChannel, type AlertDispatcher } from '../alerts/alert-dispatcher.ts';
import { monitorDefinitions } from './monitor-definitions.ts';
import type { MonitoringService } from './monitoring-service.ts';

export const alertTestBodySchema = z.strictObject({ channel: z.string().min(1).optional() });

/** Each backup job: its node and schedule, its monitor's verdict, and its last run and verify. */
function backupJobs(
  monitoring: MonitoringService,
  stack: Stack | undefined,
): z.input<typeof backupJobSchema>[] {
  if (stack === undefined) return [];
  const schedules = new Map(
    monitorDefinitions(stack).flatMap(({ target }) =>
      target.kind === 'backup' ? [[target.job, target.schedule] as const] : [],
    ),
  );
  const monitors = new Map(monitoring.list().map((monitor) => [monitor.name, monitor]));
  return monitoring.backupJobs().flatMap(({ job, node, record }) => {
    const schedule = schedules.get(job);
    if (schedule === undefined) return [];
    const monitor = monitors.get(`backup:${job}`);
    return [
      {
        job,
        node,
        schedule,
        status: monitor?.status ?? 'unknown',
        ...(monitor?.detail === undefined ? {} : { detail: monitor.detail }),
        last_success_at: record.lastSuccessAt,
        last_failure_at: record.lastFailureAt,
        last_error: record.lastError,
        last_verify_at: record.lastVerifyAt,
        last_verify_failed_at: record.lastVerifyFailedAt,
        verify_error: record.verifyError,
        last_bytes_added: record.lastBytes,
        last_duration_ms: record.lastDurationMs,
      },
    ];
  });
}

export function monitoringRoutes(
  monitoring: () => MonitoringService,
  alerts: () => AlertDispatcher,
  stack: () => Stack | undefined,
): ApiRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/monitors',
      scope: 'read',
      summary:
        "Every monitor's state, uptime, latency and recent results (?urls=1: heartbeat ping URLs too)",
      query: z.object({ urls: z.enum(['0', '1']).optional() }),
      response: z.object({ monitors: z.array(monitorViewSchema) }),
      handle: async ({ queryValues }) => {
        const monitors = monitoring().list();
        if (queryValues.urls !== '1') return { json: { monitors } };
        const urls = await monitoring().pushUrls();
        return {
          json: {
            monitors: monitors.map((monitor) => {
              const push = urls.get(monitor.name);
              return push === undefined ? monitor : { ...monitor, push };
            }),
          },
        };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/backups',
      scope: 'read',
      summary:
        'Every backup job: its node, schedule, health, and its last run and verify (size, time)',
      response: z.object({ jobs: z.array(backupJobSchema) }),
      handle: async () => ({ json: { jobs: backupJobs(monitoring(), stack()) } }),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/alerts/test',
      scope: 'operate',
      summary: 'Send a real test message to one alert channel, or to every one',
      body: alertTestBodySchema,
      response: z.object({
        deliveries: z.array(
          z.object({
            channel: z.string(),
            attempts: z.number().int(),
            ok: z.boolean(),
            detail: z.string(),
          }),
        ),
      }),
      handle: async ({ body }) => {
        const { channel } = body;
        const name = stack()?.name;
        if (name === undefined) throw new ApiError(409, 'no stack is applied yet');
        if (alerts().names().length === 0)
          throw new ApiError(400, 'the stack declares no alert channel', {
            hint: 'add one under `alerts:` in the stack file, then `flotilla apply`',
          });
        try {
          const deliveries = await alerts().send(
            {
              kind: 'test',
              stack: name,
              what: `A test message from Flotilla: alerts for stack ${name} reach this channel.`,
              at: Date.now(),
            },
            channel,
          );
          return { json: { deliveries } };
        } catch (error) {
          if (error instanceof UnknownAlertChannel)
            throw new ApiError(404, error.message, { hint: error.hint });
          throw error;
        }
      },
    }),
  ];
}
