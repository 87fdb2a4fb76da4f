// The `events` stream: health transitions, deploys, backups, config changes, logins — the
// audit log. Only the hub writes it: its own events, and each node's events as that node
// sent them on its own subject, filed under the node's name (protocol/subjects.ts), so a
// reader knows whom an event is about without trusting what the event says.
import { consumerOpts, type JetStreamClient, type JetStreamManager, type JsMsg } from 'nats';
import { decodeJson, encodeJson } from './codec.ts';
import type { Watch, WatchHost } from './kv.ts';
import { ResumableFeed } from './resumable.ts';
import { busEventSchema, type BusEvent } from '../protocol/events.ts';
import {
  EVENTS_STREAM,
  EVENTS_SUBJECTS,
  eventOrigin,
  eventSubject,
  type EventOrigin,
} from '../protocol/subjects.ts';

/** An event as read back: where it sits in the stream and whom it is from. */
export interface EventRecord {
  seq: number;
  origin: EventOrigin;
  event: BusEvent;
}

export interface EventSubscribeOptions {
  /** Deliver this many past events first; the default 0 starts from now. */
  replay?: number;
}

export class EventStream {
  constructor(
    private readonly js: JetStreamClient,
    private readonly host: WatchHost,
    private readonly manager: () => Promise<JetStreamManager>,
  ) {}

  /**
   * Files an event (`at` defaults to now) under `origin` and returns its stream sequence.
   * A node's event carries that node's name whatever the sender put in it.
   */
  async publish(
    input: Omit<BusEvent, 'at'> & { at?: number },
    origin: EventOrigin = 'hub',
  ): Promise<number> {
    const event = busEventSchema.parse({
      ...input,
      at: input.at ?? Date.now(),
      ...(origin === 'hub' ? {} : { node: origin.node }),
    });
    const ack = await this.js.publish(eventSubject(origin), encodeJson(event));
    return ack.seq;
  }

  /**
   * The newest `limit` of the hub's own events that `match`, oldest first, among the last
   * `scan` events of the stream (`flotilla history` reads deploys this way).
   */
  async recent(
    limit: number,
    match: (event: BusEvent) => boolean,
    scan = 20_000,
  ): Promise<EventRecord[]> {
    const { state } = await (await this.manager()).streams.info(EVENTS_STREAM);
    if (state.messages === 0) return [];
    const opts = consumerOpts()
      .bindStream(EVENTS_STREAM)
      .orderedConsumer()
      .filterSubject(eventSubject('hub'))
      .startSequence(Math.max(state.first_seq, state.last_seq - scan + 1));
    const subscription = await this.js.subscribe(EVENTS_SUBJECTS, opts);
    const found: EventRecord[] = [];
    const timer = setTimeout(() => subscription.unsubscribe(), 5_000);
    for await (const message of subscription) {
      const event = busEventSchema.safeParse(JSON.parse(new TextDecoder().decode(message.data)));
      if (event.success && match(event.data)) {
        found.push({ seq: message.seq, origin: 'hub', event: event.data });
        if (found.length > limit) found.shift();
      }
      if (message.info.pending === 0 || message.seq >= state.last_seq) break;
    }
    clearTimeout(timer);
    subscription.unsubscribe();
    return found;
  }

  /** Events from now (or the last `replay` ones first), in order, across server restarts. */
  async subscribe(
    onEvent: (record: EventRecord) => void | Promise<void>,
    options: EventSubscribeOptions = {},
  ): Promise<Watch> {
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
        if (origin === undefined)
          throw new Error(`event ${message.seq} on ${message.subject}: unknown origin, dropped`);
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
