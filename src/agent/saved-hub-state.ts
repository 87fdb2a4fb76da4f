// What the agent keeps of the hub's messages across restarts (`agent/hub-state.json`): the
// revisions it holds, so a replayed message stays refused, and its desired state as the hub
// signed it, so services keep running while the hub is away. The file is checked like a
// message from the hub: one edited on this node is not the hub's word.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { desiredValueSchema, type DesiredValue } from '../protocol/desired.ts';
import type { HubInbox } from '../protocol/hub-inbox.ts';
import { RefusedMessage, signedSchema, type Signed } from '../protocol/signing.ts';

const savedStateSchema = z.object({
  held: z.object({
    desired: z.number().int().nonnegative(),
    gateway: z.number().int().nonnegative(),
    directory: z.number().int().nonnegative(),
  }),
  desired: signedSchema.nullable(),
});

export interface SavedDesired {
  value: DesiredValue;
  signed: Signed;
  revision: number;
}

/** Gateway and directory revisions are written at most this often (see saveSoon). */
const REVISIONS_SAVE_DELAY_MS = 250;

export class SavedHubState {
  private pending: { timer: NodeJS.Timeout; desired: Signed | null } | undefined;

  constructor(
    private readonly file: string,
    private readonly inbox: HubInbox,
  ) {}

  /**
   * Puts the saved revisions into the inbox and returns the saved desired state if it still
   * checks out against the hub's key; what does not is passed to `refuse` and left out.
   */
  restore(refuse: (what: string, reason: string) => void): SavedDesired | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return undefined;
    }
    const saved = savedStateSchema.safeParse(parseJson(text));
    if (!saved.success) {
      refuse('saved', `${this.file} is not a saved hub state; waiting for the hub`);
      return undefined;
    }
    Object.assign(this.inbox.held, saved.data.held);
    if (saved.data.desired === null) return undefined;
    const held = this.inbox.held.desired;
    this.inbox.held.desired = 0;
    try {
      const accepted = this.inbox.accept('desired', saved.data.desired);
      if (accepted.type !== 'state' || accepted.revision !== held)
        throw new RefusedMessage(`its revision is not the ${held} this node last accepted`);
      return {
        value: desiredValueSchema.parse(accepted.body),
        signed: saved.data.desired,
        revision: accepted.revision,
      };
    } catch (error) {
      this.inbox.held.desired = held;
      if (!(error instanceof RefusedMessage)) throw error;
      refuse('saved desired', error.message);
      return undefined;
    }
  }

  /** Writes the file now: a new desired state must survive a crash the moment it is held. */
  save(desired: Signed | null): void {
    if (this.pending) clearTimeout(this.pending.timer);
    this.pending = undefined;
    const temporary = `${this.file}.${process.pid}.tmp`;
    const state: z.infer<typeof savedStateSchema> = { held: { ...this.inbox.held }, desired };
    writeFileSync(temporary, JSON.stringify(state), { mode: 0o600 });
    renameSync(temporary, this.file);
  }

  /**
   * Writes the file shortly, once for a burst: during an apply, directories arrive many
   * times a second, and each write is the whole signed desired state again. A crash in
   * between loses only the newest revision numbers, not the desired state.
   */
  saveSoon(desired: Signed | null): void {
    if (this.pending) {
      this.pending.desired = desired;
      return;
    }
    const timer = setTimeout(() => this.save(this.pending!.desired), REVISIONS_SAVE_DELAY_MS);
    timer.unref();
    this.pending = { timer, desired };
  }

  /** Writes a pending saveSoon now (the agent is stopping). */
  flush(): void {
    if (this.pending) this.save(this.pending.desired);
  }
}

/** A file that is not JSON (edited by hand, a full disk) is no saved state, not a crash. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
