// One engine event stream per runtime, shared by all its supervisors: each learns of its
// container's exit (or OOM kill, or health change) the moment it happens, with no polling
// loop per container. A stream that drops is reopened from the last event's time, so
// nothing that happened in between is missed.
import type { ContainerEvent, DockerEngine } from '../../../container/engine/index.ts';

const RECONNECT_MS = 1_000;
/** Not the engine's: sent to every listener after the stream was reopened. */
export const RESYNC = 'resync';

export type ContainerEventListener = (event: ContainerEvent) => void;

export class ContainerEvents {
  private readonly listeners = new Map<string, Set<ContainerEventListener>>();
  private abort: AbortController | undefined;
  private subscribed: Promise<void> | undefined;
  private since: Date | undefined;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly engine: DockerEngine,
    private readonly labels: Record<string, string>,
    private readonly log: (line: string) => void,
  ) {}

  /** Resolves once the engine streams events to us: what happens after that is seen. */
  open(): Promise<void> {
    if (this.subscribed) return this.subscribed;
    this.abort = new AbortController();
    const signal = this.abort.signal;
    const subscribed = this.engine.events.containers({
      labels: this.labels,
      actions: ['start', 'die', 'oom', 'health_status'],
      ...(this.since && { since: this.since }),
      signal,
    });
    this.subscribed = subscribed.then((events) => void this.pump(events, signal));
    // A failed subscription is retried by the next open(); its caller sees the error.
    this.subscribed.catch(() => (this.subscribed = undefined));
    return this.subscribed;
  }

  /** `listener` gets the events of container `id` until the returned function is called. */
  on(id: string, listener: ContainerEventListener): () => void {
    const set = this.listeners.get(id) ?? new Set();
    this.listeners.set(id, set.add(listener));
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(id);
    };
  }

  close(): void {
    clearTimeout(this.retry);
    this.abort?.abort();
    this.abort = undefined;
    this.subscribed = undefined;
  }

  private async pump(events: AsyncIterable<ContainerEvent>, signal: AbortSignal): Promise<void> {
    try {
      for await (const event of events) {
        this.since = event.time;
        for (const listener of [...(this.listeners.get(event.containerId) ?? [])]) listener(event);
      }
    } catch (error) {
      this.log(`container events: ${(error as Error).message}; reconnecting`);
    }
    if (signal.aborted) return;
    this.subscribed = undefined;
    this.reopenLater();
  }

  /** Keeps trying while the engine is away (restarting): exits must not go unseen. */
  private reopenLater(): void {
    this.retry = setTimeout(() => {
      this.open().then(
        () => this.resync(),
        (error: Error) => {
          this.log(`container events: ${error.message}`);
          if (this.abort && !this.abort.signal.aborted) this.reopenLater();
        },
      );
    }, RECONNECT_MS);
  }

  /**
   * After a gap the engine may not replay everything (it keeps a few hundred events, and
   * none from before its own restart): every listener is told to look at its container.
   */
  private resync(): void {
    for (const [containerId, listeners] of this.listeners)
      for (const listener of [...listeners])
        listener({
          action: RESYNC,
          containerId,
          attributes: {},
          exitCode: undefined,
          health: undefined,
          time: new Date(),
        });
  }
}
