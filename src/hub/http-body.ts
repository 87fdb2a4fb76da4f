// Reading a request body on the hub's listeners, capped: a body declared or found larger than
// the limit stops the read at once (BodyTooLarge), so a client cannot make the hub buffer
// more than it chose to take. A listener that keeps only the start of what it accepts (the
// heartbeat listener keeps a job's output up to 10 KB) reads the rest and drops it.
import type http from 'node:http';

export class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge';
  constructor(readonly limit: number) {
    super(`the request body is over ${limit} bytes`);
  }
}

/**
 * Reads `request`'s body: at most `limit` bytes (above: BodyTooLarge, the rest unread), of
 * which the first `keep` are kept.
 */
export async function readCappedBody(
  request: http.IncomingMessage,
  limit: number,
  keep: number = limit,
): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  let kept = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLarge(limit);
    if (kept >= keep) continue;
    const part = chunk.subarray(0, keep - kept);
    chunks.push(part);
    kept += part.length;
  }
  return Buffer.concat(chunks);
}

/**
 * For an answer sent without reading the rest of the body (a 413): the connection closes
 * with the answer, instead of the server reading an unwanted body to reuse it.
 */
export function closeAfterAnswer(request: http.IncomingMessage, response: http.ServerResponse) {
  response.setHeader('connection', 'close');
  response.once('finish', () => request.destroy());
}
