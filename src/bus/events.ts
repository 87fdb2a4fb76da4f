// The `events` stream: health transitions, deploys, backups, config changes, logins — the
// audit log. Each publisher writes under its own subject (permissions.ts) and signs with
// its own bus password (signature.ts), so a reader knows for certain who wrote an event.
import { consumerOpts, type JetStreamClient, type JetStreamManager, type JsMsg } from 'nats';
import { z } from 'zod';
import { decodeJson, encodeJson } from './codec.ts';
import type { BusCredentials } from './credentials.ts';
import type { Watch, WatchHost } from './kv.ts';
import { ResumableFeed } from './resumable.ts';
import { hasValidSignature, signedHeaders } from './signature.ts';
import {
  EVENTS_STREAM,
  EVENTS_SUBJECTS,
  eventOrigin,
  eventSubject,
  type EventOrigin,
} from './subjects.ts';

export const busEventSchema = z.object({
  /** Dotted lowercase, e.g. `health.changed`, `deploy.finished`. */
  type: z.string().regex(/^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/),
  /** ms since epoch */
  at: z.number().int().nonnegative(),
  node: z.string().optional(),
  service: z.string().optional(),
  instance: z.string().optional(),
  message: z.string(),
  data: z.record(z.string(), z.unknown()).optional(),
});

export type BusEvent = z.infer<typeof busEventSchema>;

/** An event as read back: where it sits in the stream and who published it. */
export interface EventRecord {
  seq: number;
  origin: EventOrigin;
  event: BusEvent;
}

export interface EventSubscribeOptions {
  /** Every publisher's password, to check signatures: events that fail are dropped. */
  credentials: BusCredentials;
  /** Deliver this many past events first; the default 0 starts from now. */
  replay?: number;
}

export class EventStream {
  constructor(
    private readonly js: JetStreamClient,
    private readonly origin: EventOrigin,
    /** This connection's password: what its events are signed with. */
    private readonly signingKey: string,
    private readonly host: WatchHost,
    private readonly manager: () => Promise<JetStreamManager>,
  ) {}

  /** Publishes (`at` defaults to now) and returns the event's stream sequence. */
  async publish(input: Omit<BusEvent, 'at'> & { at?: number }): Promise<number> {
    const event = busEventSchema.parse({ ...input, at: input.at ?? Date.now() });
    const subject = eventSubject(this.origin);
    const data = encodeJson(event);
    const ack = await this.js.publish(subject, data, {
      headers: signedHeaders(this.signingKey, 'event', subject, data),
    });
    return ack.seq;
  }

  /**
   * Events from now (or the last `replay` ones first), in order, across server restarts.
   * For the hub: it reads the stream's state, which agents may not.
   */
  async subscribe(
    onEvent: (record: EventRecord) => void | Promise<void>,
    options: EventSubscribeOptions,
  ): Promise<Watch> {
    const { hub, agents } = options.credentials;
    const { state } = await (await this.manager()).streams.info(EVENTS_STREAM);
    // Sequences start at 1; an empty stream reports 0 for both ends.
    let next = Math.max(1, state.first_seq, state.last_seq + 1 - (options.replay ?? 0));
    const feed = new ResumableFeed<JsMsg>(
      async () => {
        const opts = consumerOpts().bindStream(EVENTS_STREAM).orderedConsumer().startSequence(next);
        const subscription = await this.js.subscribe(EVENTS_SUBJECTS, opts);
        return { items: subscription, close: () => subscription.unsubscribe() };
      },
      async (message) => {
        next = message.seq + 1;
        const origin = eventOrigin(message.subject);
        const key = origin === 'hub' ? hub.pass : origin && agents[origin.node]?.pass;
        if (origin === undefined || key === undefined) {
          throw new Error(`event ${message.seq} on ${message.subject}: unknown publisher, dropped`);
        }
        if (!hasValidSignature(key, 'event', message)) {
          throw new Error(`event ${message.seq} on ${message.subject}: bad signature, dropped`);
        }
        await onEvent({
          seq: message.seq,
          origin,
          event: decodeJson(message.data, busEventSchema),
        });
      },
      (error) => this.host.onError(error),
    );
    await feed.start();
    return this.host.track(feed);
  }
}
