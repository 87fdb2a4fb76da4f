// A JetStream subscription that outlives the server. nats.js reconnects the connection by
// itself, but an ordered consumer lives in the server's memory: after a restart it is gone,
// and nats.js only notices after two missed heartbeats (10 s) and then recreates it through
// `$JS.API.CONSUMER.CREATE.<stream>` — a subject an agent is rightly not allowed to use,
// because it doesn't name the filter. So on every reconnect (and whenever the feed ends
// with an error) the feed is opened again the way it was opened first; the caller makes
// the restarted feed continue where the last one stopped.

interface Feed<T> {
  items: AsyncIterable<T>;
  close(): void;
}

/** What the bus keeps of a feed: reopen it after a reconnect, end it on close. */
export interface Resumable {
  resume(): Promise<void>;
  stop(): void;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

export class ResumableFeed<T> implements Resumable {
  private generation = 0;
  private current: Feed<T> | undefined;
  private stopped = false;
  private retryDelay = RETRY_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly open: () => Promise<Feed<T>>,
    private readonly handle: (item: T) => void | Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Opens the feed; a failure here (e.g. a permissions violation) goes to the caller. */
  async start(): Promise<void> {
    const generation = ++this.generation;
    this.adopt(generation, await this.open());
  }

  /** Drops the current subscription and opens a new one (after a reconnect). */
  async resume(): Promise<void> {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const generation = ++this.generation;
    this.current?.close();
    this.current = undefined;
    try {
      const feed = await this.open();
      if (this.stopped || generation !== this.generation) feed.close();
      else this.adopt(generation, feed);
    } catch (error) {
      // JetStream may still be restoring its streams right after a restart.
      if (generation === this.generation) this.retryLater(error);
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.current?.close();
    this.current = undefined;
  }

  private adopt(generation: number, feed: Feed<T>): void {
    this.current = feed;
    void this.consume(generation, feed);
  }

  private async consume(generation: number, feed: Feed<T>): Promise<void> {
    let failure: unknown;
    try {
      for await (const item of feed.items) {
        if (generation !== this.generation) break;
        // Only a feed that delivers counts as recovered: one that keeps failing backs off.
        this.retryDelay = RETRY_MIN_MS;
        try {
          await this.handle(item);
        } catch (error) {
          this.onError(error);
        }
      }
    } catch (error) {
      failure = error;
    }
    if (!this.stopped && generation === this.generation) this.retryLater(failure);
  }

  private retryLater(error: unknown): void {
    if (error !== undefined) this.onError(error);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.resume(), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
  }
}
