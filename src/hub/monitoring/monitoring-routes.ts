// The hub API's monitoring endpoints: every monitor's state and figures (what `flotilla
// monitors` shows), heartbeat ping URLs (they hold their tokens: asked for on purpose), and
// a real test message to one or every alert channel (`flotilla alerts test`).
import { z } from 'zod';
import { ApiError, type ApiRoute } from '../api-server.ts';
import { UnknownAlertChannel, type AlertDispatcher } from '../alerts/alert-dispatcher.ts';
import type { MonitoringService } from './monitoring-service.ts';

export const alertTestBodySchema = z.strictObject({ channel: z.string().min(1).optional() });

export function monitoringRoutes(
  monitoring: () => MonitoringService,
  alerts: () => AlertDispatcher,
  stackName: () => string | undefined,
): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/monitors',
      handle: async ({ query }) => {
        const monitors = monitoring().list();
        if (query.get('urls') !== '1') return { json: { monitors } };
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
    },
    {
      method: 'POST',
      path: '/v1/alerts/test',
      body: alertTestBodySchema,
      handle: async ({ body }) => {
        const { channel } = body as z.infer<typeof alertTestBodySchema>;
        const stack = stackName();
        if (stack === undefined) throw new ApiError(409, 'no stack is applied yet');
        if (alerts().names().length === 0)
          throw new ApiError(400, 'the stack declares no alert channel', {
            hint: 'add one under `alerts:` in the stack file, then `flotilla apply`',
          });
        try {
          const deliveries = await alerts().send(
            {
              kind: 'test',
              stack,
              what: `A test message from Flotilla: alerts for stack ${stack} reach this channel.`,
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
    },
  ];
}
