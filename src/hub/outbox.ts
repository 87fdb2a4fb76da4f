// What the hub sends each node, and what it last sent: desired state, gateway config and
// directory, each numbered by the revision of its record in the hub's `desired` bucket and
// signed for the node. Sent only when the content changed; sent again when a node's
// heartbeat says it holds an older revision (it was away, or restarted), so plain NATS,
// which keeps nothing for a node that is not listening, is enough.
import type { Bus } from '../bus/client.ts';
import type { HubLink } from '../bus/hub-link.ts';
import type { Held } from '../protocol/hub-inbox.ts';
import { STATE_KINDS, type Signed, type StateKind } from '../protocol/signing.ts';
import { recordKey } from '../protocol/subjects.ts';

interface Sent {
  hash: string;
  revision: number;
  signed: Signed;
}

/** A node that says it lacks something gets it again at most this often. */
const RESEND_EVERY_MS = 1_000;

export class Outbox {
  private readonly sent = new Map<string, Sent>();
  private readonly resentAt = new Map<string, number>();

  constructor(
    private readonly bus: Bus,
    private readonly link: HubLink,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Sends `value` to `node` as its new `kind` unless its `hash` is what the node last got.
   * False when the record could not be written (nothing was sent; the caller retries).
   */
  async send(node: string, kind: StateKind, value: unknown, hash: string): Promise<boolean> {
    const key = recordKey(kind, node);
    if (this.sent.get(key)?.hash === hash) return true;
    let revision: number;
    try {
      revision = await this.bus.desired.put(key, value);
    } catch (error) {
      this.log(`could not record ${key}: ${(error as Error).message}`);
      return false;
    }
    this.sent.set(key, { hash, revision, signed: this.link.send(node, kind, revision, value) });
    return true;
  }

  /** The revision of `kind` last sent to `node` (0: none). */
  revision(node: string, kind: StateKind): number {
    return this.sent.get(recordKey(kind, node))?.revision ?? 0;
  }

  /** The content hash of `kind` last sent to `node`. */
  hash(node: string, kind: StateKind): string | undefined {
    return this.sent.get(recordKey(kind, node))?.hash;
  }

  /** Sends again whatever `node` holds an older revision of than the hub sent. */
  catchUp(node: string, held: Held, now = Date.now()): void {
    if (now - (this.resentAt.get(node) ?? 0) < RESEND_EVERY_MS) return;
    for (const kind of STATE_KINDS) {
      const sent = this.sent.get(recordKey(kind, node));
      if (!sent || held[kind] >= sent.revision) continue;
      this.resentAt.set(node, now);
      this.link.resend(node, kind, sent.signed);
    }
  }

  /** A node left: its records go, so it starts from nothing if it joins again. */
  async forget(node: string): Promise<void> {
    this.resentAt.delete(node);
    for (const kind of STATE_KINDS) {
      const key = recordKey(kind, node);
      this.sent.delete(key);
      await this.bus.desired.delete(key).catch(() => {});
    }
  }
}
