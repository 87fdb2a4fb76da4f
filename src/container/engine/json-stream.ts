// The engine's long answers (pull, push and import progress, the event stream) are one JSON
// object per line, sent as they happen. This reads them one by one without holding the
// whole answer, and closes the connection when the reader stops early.
import type http from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { unexpected } from './transport.ts';

/** A progress line is short; a line this long means the stream is not what we think. */
const MAX_LINE = 1024 * 1024;

export interface JsonStreamOptions {
  /** Which call this is, for error messages. */
  what: string;
  signal?: AbortSignal;
  /** On abort, end the iteration quietly (a subscription) instead of throwing the reason. */
  endOnAbort?: boolean;
}

/** Each JSON value in `response`, one per line, unvalidated: the caller checks its shape. */
export async function* jsonLines(
  response: http.IncomingMessage,
  options: JsonStreamOptions,
): AsyncGenerator<unknown> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      pending += decoder.write(chunk);
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line !== '') yield parseLine(line, options.what);
      }
      if (pending.length > MAX_LINE) throw unexpected(options.what, 'a line over 1 MiB');
    }
  } catch (error) {
    if (options.signal?.aborted) {
      if (options.endOnAbort) return;
      throw options.signal.reason;
    }
    throw error;
  } finally {
    response.destroy();
  }
  const rest = (pending + decoder.end()).trim();
  if (rest !== '') yield parseLine(rest, options.what);
}

function parseLine(line: string, what: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw unexpected(what, `a line that is not JSON: ${line.slice(0, 200)}`);
  }
}
