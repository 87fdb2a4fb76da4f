// An agent's side of the hub↔agent protocol on plain NATS: it subscribes to what the hub
// sends its node and publishes its reports, heartbeats, events, metrics and replies on
// subjects of its own. Nothing here is trusted yet: the agent checks every message
// (protocol/hub-inbox.ts).
import type { NatsConnection, Subscription } from 'nats';
import { encodeJson } from './codec.ts';
import { onReconnect } from './connection.ts';
import { fromWire } from './signed-wire.ts';
import type { Reply } from './hub-link.ts';
import type { BusEvent } from '../protocol/events.ts';
import type { NodeMetrics } from '../protocol/node-metrics.ts';
import type { Signed } from '../protocol/signing.ts';
import type { Heartbeat, NodeStatus } from '../protocol/status.ts';
import { fromNode, nodeInbox, replySubject, type ToNodeKind } from '../protocol/subjects.ts';

const KINDS: readonly string[] = ['desired', 'gateway', 'directory', 'request'];

export class AgentLink {
  constructor(
    private readonly connection: NatsConnection,
    readonly node: string,
  ) {}

  /** `onMessage` gets each message with the kind its subject names (undefined: not signed). */
  listen(onMessage: (kind: ToNodeKind, signed: Signed | undefined) => void): Subscription {
    const prefix = nodeInbox(this.node).slice(0, -1);
    return this.connection.subscribe(nodeInbox(this.node), {
      callback: (error, message) => {
        if (error !== null) return;
        const kind = message.subject.slice(prefix.length);
        if (!KINDS.includes(kind)) return;
        onMessage(kind as ToNodeKind, fromWire(message));
      },
    });
  }

  status(status: NodeStatus): void {
    this.connection.publish(fromNode('status', this.node), encodeJson(status));
  }

  heartbeat(heartbeat: Heartbeat): void {
    this.connection.publish(fromNode('heartbeat', this.node), encodeJson(heartbeat));
  }

  event(event: BusEvent): void {
    this.connection.publish(fromNode('event', this.node), encodeJson(event));
  }

  /** What the node measured of itself (every NODE_METRICS_EVERY_MS): never part of the status. */
  sendMetrics(metrics: NodeMetrics): void {
    this.connection.publish(fromNode('metrics', this.node), encodeJson(metrics));
  }

  /** Answers the hub's request `id` on this node's own reply subject for it. */
  reply(id: string, reply: Reply): void {
    this.connection.publish(replySubject(this.node, id), encodeJson(reply));
  }

  /** Calls `callback` each time the connection is back after a loss. */
  onReconnect(callback: () => void): void {
    onReconnect(this.connection, callback);
  }
}
