// A container without a TTY (Flotilla never allocates one) sends its output as frames: an
// 8-byte header (stream type, 3 zero bytes, big-endian payload length) and the payload.
// Logs and exec output both arrive this way; this splits them back into stdout and stderr.
import { unexpected } from './transport.ts';

export type StdStream = 'stdout' | 'stderr';

export interface StdFrame {
  stream: StdStream;
  data: Buffer;
}

const HEADER_SIZE = 8;
/** The engine writes at most 32 KiB per frame; far more means we are misreading. */
const MAX_FRAME = 16 * 1024 * 1024;

/** The frames of a multiplexed stream, in order. */
export async function* demultiplex(
  source: AsyncIterable<Buffer>,
  what: string,
): AsyncGenerator<StdFrame> {
  let buffer: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    while (buffer.length >= HEADER_SIZE) {
      const type = buffer[0];
      const size = buffer.readUInt32BE(4);
      if (type === undefined || type > 3 || size > MAX_FRAME) {
        // Once a log stream has begun, the engine reports a failure as bare text in it.
        const text = buffer.subarray(0, 300).toString('utf8').split('\n')[0] ?? '';
        throw unexpected(
          what,
          text.startsWith('Error ')
            ? `an error: ${text}`
            : 'output that is not a multiplexed stream (a TTY container?)',
        );
      }
      if (buffer.length < HEADER_SIZE + size) break;
      // 0 is stdin echoed back, 3 the engine's own error about an exec: both go with their kin.
      yield {
        stream: type === 2 || type === 3 ? 'stderr' : 'stdout',
        data: buffer.subarray(HEADER_SIZE, HEADER_SIZE + size),
      };
      buffer = buffer.subarray(HEADER_SIZE + size);
    }
  }
  if (buffer.length > 0) throw unexpected(what, 'a stream cut in the middle of a frame');
}
