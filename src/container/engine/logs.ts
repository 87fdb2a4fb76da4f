// A container's output as lines, from the engine's json-file logs (which rotate by size and
// are read across rotated files): history (`tail`, `since`) and follow, each line tagged
// stdout or stderr. The iteration ends when the container stops (follow), at the end of the
// history, or quietly when the caller aborts.
import { StringDecoder } from 'node:string_decoder';
import { containerFailure } from './containers.ts';
import { demultiplex, type StdStream } from './stdio-stream.ts';
import type { EngineTransport } from './transport.ts';

export interface LogLine {
  stream: StdStream;
  /** Without its newline. */
  line: string;
  /** RFC 3339 with nanoseconds, when `timestamps` was asked for: usable as a later `since`. */
  time: string | undefined;
}

export interface LogOptions {
  /** Keep the stream open and yield new lines as they come, until the container stops. */
  follow?: boolean;
  /** Only the last n lines of the history (default: all of it). */
  tail?: number;
  /** Only lines written at or after this moment (a `time` from an earlier line, or a Date). */
  since?: Date | string;
  timestamps?: boolean;
  signal?: AbortSignal;
}

/** A line longer than this is yielded in pieces rather than held whole. */
const MAX_LINE = 1024 * 1024;
const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) /;

/** The engine's `since`/`until` format: unix seconds with a 9-digit fraction. */
export function unixTimestamp(time: Date | string): string {
  if (time instanceof Date) return (time.getTime() / 1000).toFixed(3);
  const fraction = /\.(\d+)/.exec(time)?.[1] ?? '';
  const seconds = Math.floor(Date.parse(time.replace(/\.\d+/, '')) / 1000);
  return `${seconds}.${fraction.padEnd(9, '0').slice(0, 9)}`;
}

export class Logs {
  constructor(private readonly transport: EngineTransport) {}

  /**
   * Opens the log stream; resolves once the engine answered (NoSuchContainerError is thrown
   * here), then yields lines. Containers must not have a TTY (Flotilla never gives one).
   */
  async open(id: string, options: LogOptions = {}): Promise<AsyncIterable<LogLine>> {
    const response = await this.transport.open({
      method: 'GET',
      path: `/containers/${encodeURIComponent(id)}/logs`,
      query: {
        stdout: true,
        stderr: true,
        follow: options.follow ?? false,
        timestamps: options.timestamps ?? false,
        tail: options.tail === undefined ? 'all' : String(options.tail),
        since: options.since === undefined ? undefined : unixTimestamp(options.since),
      },
      signal: options.signal,
      timeoutMs: options.follow ? false : undefined,
      failure: (answer) => containerFailure(id, answer),
    });
    const what = `the logs of ${id}`;
    return (async function* () {
      try {
        yield* splitLines(
          demultiplex(response as AsyncIterable<Buffer>, what),
          options.timestamps ?? false,
        );
      } catch (error) {
        if (!options.signal?.aborted) throw error;
      } finally {
        response.destroy();
      }
    })();
  }
}

/**
 * Frames to lines. With timestamps every frame is one log message prefixed by its time; a
 * message without a trailing newline is a piece of a longer line (the json-file driver
 * splits at 16 KiB) and the next piece continues it.
 */
export async function* splitLines(
  frames: AsyncIterable<{ stream: StdStream; data: Buffer }>,
  timestamps: boolean,
): AsyncGenerator<LogLine> {
  const pending = new Map<
    StdStream,
    { text: string; time: string | undefined; decoder: StringDecoder }
  >();
  for await (const frame of frames) {
    let state = pending.get(frame.stream);
    if (state === undefined) {
      state = { text: '', time: undefined, decoder: new StringDecoder('utf8') };
      pending.set(frame.stream, state);
    }
    let text = state.decoder.write(frame.data);
    if (timestamps) {
      const match = TIMESTAMP.exec(text);
      if (match) {
        if (state.text === '') state.time = match[1];
        text = text.slice(match[0].length);
      }
    }
    state.text += text;
    let newline: number;
    while ((newline = state.text.indexOf('\n')) >= 0) {
      yield { stream: frame.stream, line: state.text.slice(0, newline), time: state.time };
      state.text = state.text.slice(newline + 1);
    }
    if (state.text.length > MAX_LINE) {
      yield { stream: frame.stream, line: state.text, time: state.time };
      state.text = '';
    }
  }
  for (const [stream, state] of pending) {
    const rest = state.text + state.decoder.end();
    if (rest !== '') yield { stream, line: rest, time: state.time };
  }
}
