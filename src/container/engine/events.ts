// The engine's event stream, narrowed to containers: the runtime learns of an exit, an OOM
// kill or a health change the moment it happens instead of polling inspect. The stream ends
// quietly on abort; reconnecting (with `since` = the last event's time, so nothing is lost
// in between) is the caller's job.
import { z } from 'zod';
import { jsonLines } from './json-stream.ts';
import { type EngineTransport, filtersQuery, labelFilter, parseAnswer } from './transport.ts';

/** The container actions a supervisor cares about (the engine has more: see its docs). */
export type ContainerAction =
  'create' | 'start' | 'die' | 'kill' | 'stop' | 'oom' | 'health_status' | 'destroy' | 'rename';

export interface ContainerEvent {
  /** `health_status` also for the engine's "health_status: healthy". */
  action: string;
  containerId: string;
  /** The container's labels with the event's own attributes (name, image, exitCode, signal). */
  attributes: Record<string, string>;
  /** For `die`. */
  exitCode: number | undefined;
  /** For `health_status`. */
  health: 'starting' | 'healthy' | 'unhealthy' | undefined;
  time: Date;
}

export interface ContainerEventOptions {
  /** Only containers carrying all these labels. */
  labels?: Record<string, string> | readonly string[];
  /** Default: start, die, oom and health_status. */
  actions?: readonly ContainerAction[];
  /** Replay events from this moment on (the engine keeps the last 256 or so). */
  since?: Date;
  signal?: AbortSignal;
}

const DEFAULT_ACTIONS: readonly ContainerAction[] = ['start', 'die', 'oom', 'health_status'];

const eventSchema = z.object({
  Type: z.string(),
  Action: z.string(),
  Actor: z.object({
    ID: z.string(),
    Attributes: z.record(z.string(), z.string()).nullish(),
  }),
  time: z.number(),
  timeNano: z.number().optional(),
});

const HEALTH = z.enum(['starting', 'healthy', 'unhealthy']);

export class Events {
  constructor(private readonly transport: EngineTransport) {}

  /**
   * Subscribes; resolves once the engine has registered the subscription, so anything that
   * happens after the await is seen. Then yields events until `signal` aborts.
   */
  async containers(options: ContainerEventOptions = {}): Promise<AsyncIterable<ContainerEvent>> {
    const response = await this.transport.open({
      method: 'GET',
      path: '/events',
      query: {
        filters: filtersQuery({
          type: ['container'],
          event: [...(options.actions ?? DEFAULT_ACTIONS)],
          label: labelFilter(options.labels ?? []),
        }),
        since:
          options.since === undefined ? undefined : (options.since.getTime() / 1000).toFixed(3),
      },
      signal: options.signal,
      timeoutMs: false,
    });
    const lines = jsonLines(response, {
      what: 'the event stream',
      signal: options.signal,
      endOnAbort: true,
    });
    return (async function* () {
      for await (const value of lines) {
        const event = parseAnswer(eventSchema, value, 'the event stream');
        if (event.Type !== 'container') continue;
        const [action = '', detail] = event.Action.split(': ', 2);
        const attributes = event.Actor.Attributes ?? {};
        const exitCode = action === 'die' ? Number(attributes.exitCode) : NaN;
        const health = HEALTH.safeParse(detail?.trim());
        yield {
          action,
          containerId: event.Actor.ID,
          attributes,
          exitCode: Number.isInteger(exitCode) ? exitCode : undefined,
          health: action === 'health_status' && health.success ? health.data : undefined,
          time: new Date(event.timeNano === undefined ? event.time * 1000 : event.timeNano / 1e6),
        };
      }
    })();
  }
}
