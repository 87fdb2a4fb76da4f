// Which webhook deliveries the hub has already acted on, so a delivery sent twice (a replay
// by someone who captured it, or a forge retrying) deploys at most once. Kept per hook in a
// private JSON file that survives a hub restart, bounded to each hook's latest ids.
import { z } from 'zod';
import { readPrivateJson, writePrivateJson } from '../../state/private-json.ts';

export interface DeliveryLog {
  /** Records `delivery` for `hook`: true the first time, false for one seen before. */
  claim(hook: string, delivery: string): Promise<boolean>;
}

const fileSchema = z.object({ hooks: z.record(z.string(), z.array(z.string())) });

/** A DeliveryLog in a 0600 JSON file, keeping the last `keep` (1000) ids of each hook. */
export class FileDeliveryLog implements DeliveryLog {
  private readonly keep: number;
  /** Hook → its ids, oldest first; a Map so no hook name can reach an object's prototype. */
  private loaded: Map<string, string[]> | undefined;
  /** Claims run one after another: two at once must not both see an id as new. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly file: string,
    options: { keep?: number } = {},
  ) {
    this.keep = options.keep ?? 1000;
  }

  claim(hook: string, delivery: string): Promise<boolean> {
    const claimed = this.queue.then(() => this.claimNow(hook, delivery));
    this.queue = claimed.catch(() => undefined);
    return claimed;
  }

  private async claimNow(hook: string, delivery: string): Promise<boolean> {
    this.loaded ??= new Map(
      Object.entries((await readPrivateJson(this.file, fileSchema))?.hooks ?? {}),
    );
    const seen = this.loaded.get(hook) ?? [];
    if (seen.includes(delivery)) return false;
    const next = new Map(this.loaded).set(hook, [...seen, delivery].slice(-this.keep));
    // On disk before it counts: a delivery acted on is never forgotten by a crash.
    await writePrivateJson(this.file, { hooks: Object.fromEntries(next) });
    this.loaded = next;
    return true;
  }
}
