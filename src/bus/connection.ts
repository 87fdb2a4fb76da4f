// A NATS connection as the hub or one node's agent keeps it: reconnecting forever (agents
// keep running their services while the bus is away), and telling its owner when it is
// back, so subscriptions that live in the server (JetStream feeds) can be reopened and an
// agent can report at once.
import { connect, Events, type NatsConnection } from 'nats';

export interface ConnectOptions {
  url: string;
  user: string;
  pass: string;
  /** Shown in the server's connection list, e.g. `agent storage`. */
  name: string;
  /** Keep trying until the server answers instead of failing on the first attempt. */
  waitForServer?: boolean;
}

export async function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  return connect({
    servers: options.url,
    user: options.user,
    pass: options.pass,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // A link cut for a while leaves a TCP connection whose retransmissions back off for
    // minutes: pings find it dead within ~15 s and a fresh connect (2 s at most per try)
    // is back as soon as the link is (a node cut for 20 s took 9 s to return without).
    pingInterval: 5_000,
    maxPingOut: 2,
    timeout: 2_000,
    waitOnFirstConnect: options.waitForServer ?? false,
    // A server restarting with a config being rewritten may refuse a login once or twice.
    ignoreAuthErrorAbort: true,
  });
}

/** Calls `onReconnect` after every reconnect, until the connection closes. */
export function onReconnect(connection: NatsConnection, onReconnect: () => void): void {
  void (async () => {
    for await (const status of connection.status()) {
      if (status.type === Events.Reconnect) onReconnect();
    }
  })();
}

/** close, not drain: draining waits for a server that may be gone for good. */
export async function closeConnection(connection: NatsConnection): Promise<void> {
  if (!connection.isClosed()) await connection.close();
}
