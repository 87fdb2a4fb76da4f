// An agent's gate for what arrives from the hub: a message is acted on only if the hub
// signed it, for this node, and (for state) it is newer than what the agent holds, or (for
// a request) it is fresh and has not been seen before. Everything else is refused with a
// reason the agent logs and reports. Pure: the agent persists `held` so that a replay is
// refused across its restarts too.
import { RefusedMessage, type HubVerifier, type Signed, type StateKind } from './signing.ts';
import { stateBodySchemas } from './desired.ts';
import type { ToNodeKind } from './subjects.ts';

/** The revision of each kind of state message the agent accepted last (0: none). */
export type Held = Record<StateKind, number>;

export const NOTHING_HELD: Held = { desired: 0, gateway: 0, directory: 0 };

/**
 * A request older (or, by the hub's clock, newer) than this is refused: a replay window
 * that also tolerates modest clock skew between nodes.
 */
export const REQUEST_WINDOW_MS = 5 * 60_000;

export type Accepted =
  | { type: 'state'; kind: StateKind; revision: number; body: unknown }
  /** The same revision again (the hub resends what a heartbeat said was missing): no news. */
  | { type: 'duplicate' }
  | { type: 'request'; id: string; verb: string; body: unknown };

export class HubInbox {
  private readonly seenRequests = new Map<string, number>();

  constructor(
    private readonly verifier: HubVerifier,
    private readonly node: string,
    readonly held: Held = { ...NOTHING_HELD },
  ) {}

  /** What `signed`, which arrived as `kind`, asks of this node; RefusedMessage otherwise. */
  accept(kind: ToNodeKind, signed: Signed | undefined, now = Date.now()): Accepted {
    if (signed === undefined) throw new RefusedMessage(`an unsigned ${kind} message`);
    const message = this.verifier.open(signed, this.node);
    if (message.kind !== kind)
      throw new RefusedMessage(`a ${message.kind} message sent as ${kind}`);
    if (message.kind === 'request') {
      this.forgetOldRequests(now);
      if (Math.abs(now - message.issued_at) > REQUEST_WINDOW_MS)
        throw new RefusedMessage(
          `a request issued ${new Date(message.issued_at).toISOString()}: too old, or the clocks of hub and node differ by minutes`,
        );
      if (this.seenRequests.has(message.id))
        throw new RefusedMessage(`request ${message.id} again: a replay`);
      this.seenRequests.set(message.id, message.issued_at);
      return { type: 'request', id: message.id, verb: message.verb, body: message.body };
    }
    const held = this.held[message.kind];
    if (message.revision === held) return { type: 'duplicate' };
    if (message.revision < held)
      throw new RefusedMessage(
        `${message.kind} revision ${message.revision} is older than the ${held} this node holds: a replay`,
      );
    const body = stateBodySchemas[message.kind].safeParse(message.body);
    if (!body.success)
      throw new RefusedMessage(`${message.kind} revision ${message.revision} has an invalid body`);
    this.held[message.kind] = message.revision;
    return { type: 'state', kind: message.kind, revision: message.revision, body: body.data };
  }

  private forgetOldRequests(now: number): void {
    for (const [id, issued] of this.seenRequests)
      if (now - issued > 2 * REQUEST_WINDOW_MS) this.seenRequests.delete(id);
  }
}
