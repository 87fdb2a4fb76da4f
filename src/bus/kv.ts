// A KV bucket holding JSON values, read through a parser, with watches that survive a
// server restart.
import type { KV, KvEntry } from 'nats';
import { anyJson, BusValueError, decodeJson, encodeJson, type Parser } from './codec.ts';
import { ResumableFeed, type Resumable } from './resumable.ts';

export interface KvRecord<T> {
  key: string;
  revision: number;
  value: T;
}

export type KvChange<T> =
  | ({ kind: 'put' } & KvRecord<T>)
  | { kind: 'delete'; key: string; revision: number }
  /** The stored value isn't valid: the watcher decides (e.g. reports it), nothing is applied. */
  | { kind: 'invalid'; key: string; revision: number; error: BusValueError };

export interface Watch {
  stop(): void;
}

/** The bus behind every watch: resumes it after a reconnect, hears its errors. */
export interface WatchHost {
  /** Keeps a started feed resumed until the returned watch is stopped. */
  track(feed: Resumable): Watch;
  onError(error: unknown): void;
}

export class JsonKv {
  constructor(
    readonly bucket: string,
    private readonly kv: KV,
    private readonly host: WatchHost,
  ) {}

  /** The key's current value, or null if it has none; throws BusValueError if it's invalid. */
  get(key: string): Promise<KvRecord<unknown> | null>;
  get<T>(key: string, parser: Parser<T>): Promise<KvRecord<T> | null>;
  async get<T>(key: string, parser?: Parser<T>): Promise<KvRecord<T | unknown> | null> {
    const entry = await this.kv.get(key);
    if (entry === null || entry.operation !== 'PUT') return null;
    return { key, revision: entry.revision, value: this.decode(entry, parser ?? anyJson) };
  }

  /**
   * Stores `value`; returns its revision. With `previousRevision` the write only happens if
   * the key is still at that revision (0: only if it doesn't exist yet).
   */
  async put(
    key: string,
    value: unknown,
    options: { previousRevision?: number } = {},
  ): Promise<number> {
    const data = encodeJson(value);
    return options.previousRevision === undefined
      ? this.kv.put(key, data)
      : this.kv.put(key, data, { previousSeq: options.previousRevision });
  }

  async delete(key: string): Promise<void> {
    await this.kv.delete(key);
  }

  /**
   * Calls `onChange` for every change of `key` (a key, or a pattern like `node.>`), the
   * current value(s) first: the returned promise resolves once those were delivered.
   */
  watch(key: string, onChange: (change: KvChange<unknown>) => void | Promise<void>): Promise<Watch>;
  watch<T>(
    key: string,
    onChange: (change: KvChange<T>) => void | Promise<void>,
    parser: Parser<T>,
  ): Promise<Watch>;
  async watch<T>(
    key: string,
    onChange: (change: KvChange<T | unknown>) => void | Promise<void>,
    parser?: Parser<T>,
  ): Promise<Watch> {
    // Per key, the revision last delivered: a resumed watch replays each key's latest
    // entry, and only the ones that changed meanwhile are news. Compared for inequality,
    // not order, so a bucket recreated from scratch still gets through.
    const delivered = new Map<string, number>();
    let markReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    const feed = new ResumableFeed<KvEntry>(
      async () => {
        // Passed to every reopening: if the first feed dies before its snapshot is
        // complete, a later one completes it (resolving twice is harmless).
        const iterator = await this.kv.watch({ key, initializedFn: markReady });
        return { items: iterator, close: () => iterator.stop() };
      },
      async (entry) => {
        if (delivered.get(entry.key) === entry.revision) return;
        delivered.set(entry.key, entry.revision);
        await onChange(this.toChange(entry, parser ?? anyJson));
      },
      (error) => this.host.onError(error),
    );
    await feed.start();
    const watch = this.host.track(feed);
    await ready;
    return watch;
  }

  private toChange<T>(entry: KvEntry, parser: Parser<T>): KvChange<T> {
    const { key, revision } = entry;
    if (entry.operation !== 'PUT') return { kind: 'delete', key, revision };
    try {
      return { kind: 'put', key, revision, value: this.decode(entry, parser) };
    } catch (error) {
      return { kind: 'invalid', key, revision, error: error as BusValueError };
    }
  }

  private decode<T>(entry: KvEntry, parser: Parser<T>): T {
    try {
      return decodeJson(entry.value, parser);
    } catch (cause) {
      throw new BusValueError(`${this.bucket}/${entry.key}`, entry.revision, cause);
    }
  }
}
