// The hub's side of the hub↔agent protocol on plain NATS: it hears every node's reports,
// heartbeats, events and replies (the node being the subject's last token, which bus
// permissions tie to that node's credentials), and sends each node messages signed for it.
// It never answers to a reply subject a node chose: that is how JetStream could be made to
// write where a node may not, and the hub must not become the next such tool.
import { randomBytes } from 'node:crypto';
import type { NatsConnection, Subscription } from 'nats';
import { z } from 'zod';
import { toWire } from './signed-wire.ts';
import type { HubSigningKey, Signed, StateKind } from '../protocol/signing.ts';
import {
  ALL_REPLIES,
  fromAnyNode,
  replyOf,
  senderOf,
  toNode,
  type FromNodeKind,
} from '../protocol/subjects.ts';

const DEFAULT_TIMEOUT_MS = 10_000;

export const replySchema = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type Reply = z.infer<typeof replySchema>;

/** The node answered with an error (its message), or did not answer in time. */
export class NodeRequestError extends Error {
  override readonly name = 'NodeRequestError';
  constructor(
    message: string,
    /** No answer came: the node is down, cut off, or refused the request as not the hub's. */
    readonly timedOut = false,
  ) {
    super(message);
  }
}

export interface HubLinkHandlers {
  /** A message from `node` on its `kind` subject, JSON-decoded but not yet validated. */
  onMessage(kind: FromNodeKind, node: string, value: unknown): void;
  /** Something unreadable arrived; the hub logs it. */
  onInvalid(kind: FromNodeKind, node: string, why: string): void;
}

/** Messages and bytes per kind, since the hub started: what the protocol costs. */
export type Traffic = Record<string, { messages: number; bytes: number }>;

interface Pending {
  node: string;
  resolve(reply: Reply | 'timeout'): void;
  timer: NodeJS.Timeout;
}

const decoder = new TextDecoder();

function parseJson(data: Uint8Array): unknown {
  return JSON.parse(decoder.decode(data)) as unknown;
}

export class HubLink {
  private readonly subscriptions: Subscription[] = [];
  private readonly pending = new Map<string, Pending>();
  private readonly received: Traffic = {};
  private readonly sent: Traffic = {};

  constructor(
    private readonly connection: NatsConnection,
    private readonly signer: HubSigningKey,
  ) {}

  listen(handlers: HubLinkHandlers): void {
    for (const kind of ['status', 'heartbeat', 'event', 'metrics'] as const) {
      this.subscriptions.push(
        this.connection.subscribe(fromAnyNode(kind), {
          callback: (error, message) => {
            const node = error === null ? senderOf(kind, message.subject) : undefined;
            if (node === undefined) return;
            count(this.received, kind, message.data.length);
            let value: unknown;
            try {
              value = parseJson(message.data);
            } catch {
              handlers.onInvalid(kind, node, 'not JSON');
              return;
            }
            handlers.onMessage(kind, node, value);
          },
        }),
      );
    }
    this.subscriptions.push(
      this.connection.subscribe(ALL_REPLIES, {
        callback: (error, message) => {
          const from = error === null ? replyOf(message.subject) : undefined;
          if (from) count(this.received, 'reply', message.data.length);
          const pending = from && this.pending.get(from.id);
          // Only the node the request went to may answer it.
          if (!from || !pending || pending.node !== from.node) return;
          let reply: Reply;
          try {
            reply = replySchema.parse(parseJson(message.data));
          } catch {
            reply = { ok: false, error: `node ${from.node} sent an unreadable answer` };
          }
          this.settle(from.id, reply);
        },
      }),
    );
  }

  /** Signs `body` for `node` as revision `revision` of `kind`, sends it, and returns it. */
  send(node: string, kind: StateKind, revision: number, body: unknown): Signed {
    const signed = this.signer.sign({ kind, node, revision, issued_at: Date.now(), body });
    this.resend(node, kind, signed);
    return signed;
  }

  /** Sends a message signed earlier again (to a node that missed it). */
  resend(node: string, kind: StateKind, signed: Signed): void {
    this.publish(toNode(node, kind), signed, kind);
  }

  /** Asks `node`'s agent to do `verb`; resolves with its result, rejects with its error. */
  async request(
    node: string,
    verb: string,
    body: unknown,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<unknown> {
    const id = randomBytes(12).toString('base64url');
    const reply = new Promise<Reply | 'timeout'>((resolve) => {
      const timer = setTimeout(() => this.settle(id, 'timeout'), timeoutMs);
      this.pending.set(id, { node, resolve, timer });
    });
    this.publish(
      toNode(node, 'request'),
      this.signer.sign({ kind: 'request', node, id, issued_at: Date.now(), verb, body }),
      'request',
    );
    const answer = await reply;
    if (answer === 'timeout')
      throw new NodeRequestError(
        `node ${node} did not answer within ${Math.round(timeoutMs / 1000)} s`,
        true,
      );
    if (!answer.ok) throw new NodeRequestError(answer.error);
    return answer.result;
  }

  /** What has gone each way since the hub started, per kind of message. */
  traffic(): { received: Traffic; sent: Traffic } {
    return structuredClone({ received: this.received, sent: this.sent });
  }

  close(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions.length = 0;
    for (const id of [...this.pending.keys()])
      this.settle(id, { ok: false, error: 'the hub is shutting down' });
  }

  private settle(id: string, reply: Reply | 'timeout'): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    pending.resolve(reply);
  }

  private publish(subject: string, signed: Signed, kind: string): void {
    const { data, headers } = toWire(signed);
    count(this.sent, kind, data.length);
    this.connection.publish(subject, data, { headers });
  }
}

function count(traffic: Traffic, kind: string, bytes: number): void {
  const entry = (traffic[kind] ??= { messages: 0, bytes: 0 });
  entry.messages += 1;
  entry.bytes += bytes;
}
