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

export class SavedHubState {
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

  save(desired: Signed | null): void {
    const temporary = `${this.file}.${process.pid}.tmp`;
    const state: z.infer<typeof savedStateSchema> = { held: { ...this.inbox.held }, desired };
    writeFileSync(temporary, JSON.stringify(state), { mode: 0o600 });
    renameSync(temporary, this.file);
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
