// A connection to the bus as the hub or as one node's agent: the `desired` and `status`
// buckets, the `events` stream, and watches that keep working across server restarts.
import { connect, Events, type NatsConnection } from 'nats';
import { nodeOfUser } from './credentials.ts';
import { EventStream } from './events.ts';
import { JsonKv, type WatchHost } from './kv.ts';
import type { Resumable } from './resumable.ts';
import { agentInboxPrefix, DESIRED_BUCKET, STATUS_BUCKET } from './subjects.ts';

export interface ConnectBusOptions {
  url: string;
  user: string;
  pass: string;
  /** Shown in the server's connection list, e.g. `agent storage`. */
  name: string;
  /** Keep trying until the server answers instead of failing on the first attempt. */
  waitForServer?: boolean;
  /** Errors no caller can catch: a watch that had to be reopened, a throwing callback. */
  onError?: (error: unknown) => void;
}

export interface Bus {
  readonly connection: NatsConnection;
  readonly user: string;
  /** Keys `desiredKey(node)` → DesiredNode, `caddyKey(node)` → the gateway's Caddy config. */
  readonly desired: JsonKv;
  /** Keys `statusKey(node)` → what that node's agent reports. */
  readonly status: JsonKv;
  readonly events: EventStream;
  close(): Promise<void>;
}

export async function connectBus(options: ConnectBusOptions): Promise<Bus> {
  const node = nodeOfUser(options.user);
  const connection = await connect({
    servers: options.url,
    user: options.user,
    pass: options.pass,
    name: options.name,
    // Agents keep running their services while the bus is away, and come back to it.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: options.waitForServer ?? false,
    // A server restarting with a config being rewritten may refuse a login once or twice.
    ignoreAuthErrorAbort: true,
    ...(node === undefined ? {} : { inboxPrefix: agentInboxPrefix(node) }),
  });
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
  void (async () => {
    for await (const status of connection.status()) {
      if (status.type === Events.Reconnect) for (const feed of feeds) void feed.resume();
    }
  })();

  // An agent may not look streams up ($JS.API.INFO, STREAM.INFO): bind to the buckets by
  // name, and read through direct gets, whose subjects name the key being read.
  const js = connection.jetstream({ checkAPI: false });
  const bind = (bucket: string) => js.views.kv(bucket, { bindOnly: true, allow_direct: true });
  const [desired, status] = await Promise.all([bind(DESIRED_BUCKET), bind(STATUS_BUCKET)]);
  return {
    connection,
    user: options.user,
    desired: new JsonKv(DESIRED_BUCKET, desired, host),
    status: new JsonKv(STATUS_BUCKET, status, host),
    events: new EventStream(js, node === undefined ? 'hub' : { node }, options.pass, host, () =>
      connection.jetstreamManager({ checkAPI: false }),
    ),
    close: async () => {
      for (const feed of feeds) feed.stop();
      feeds.clear();
      // close, not drain: draining waits for a server that may be gone for good.
      if (!connection.isClosed()) await connection.close();
    },
  };
}
