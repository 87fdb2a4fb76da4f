// The hub's connection to the bus: its `desired` bucket (the record of every message it
// sent each node, whose revisions number those messages), the `events` stream, and feeds
// that keep working across server restarts. Agents never touch JetStream (agent-link.ts).
import type { NatsConnection } from 'nats';
import { closeConnection, connectNats, onReconnect, type ConnectOptions } from './connection.ts';
import { EventStream } from './events.ts';
import { JsonKv, type WatchHost } from './kv.ts';
import type { Resumable } from './resumable.ts';
import { DESIRED_BUCKET } from '../protocol/subjects.ts';

export interface ConnectBusOptions extends ConnectOptions {
  /** Errors no caller can catch: a feed that had to be reopened, a throwing callback. */
  onError?: (error: unknown) => void;
}

export interface Bus {
  readonly connection: NatsConnection;
  readonly user: string;
  /** The hub's record of what it sent each node: key `recordKey(kind, node)`. */
  readonly desired: JsonKv;
  readonly events: EventStream;
  close(): Promise<void>;
}

export async function connectBus(options: ConnectBusOptions): Promise<Bus> {
  const connection = await connectNats(options);
  const feeds = new Set<Resumable>();
  const host: WatchHost = {
    track: (feed) => {
      feeds.add(feed);
      return {
        stop: () => {
          feed.stop();
          feeds.delete(feed);
        },
      };
    },
    onError: options.onError ?? ((error) => console.error('bus:', error)),
  };
  onReconnect(connection, () => {
    for (const feed of feeds) void feed.resume();
  });
  // Bound by name: the bucket may not exist yet (ensureBuckets creates it right after).
  const js = connection.jetstream({ checkAPI: false });
  const desired = await js.views.kv(DESIRED_BUCKET, { bindOnly: true, allow_direct: true });
  return {
    connection,
    user: options.user,
    desired: new JsonKv(DESIRED_BUCKET, desired, host),
    events: new EventStream(js, host, () => connection.jetstreamManager({ checkAPI: false })),
    close: async () => {
      for (const feed of feeds) feed.stop();
      feeds.clear();
      await closeConnection(connection);
    },
  };
}
