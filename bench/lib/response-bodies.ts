// The bodies of the HTTP(S) answers this process's clients receive, read through Node's http
// client diagnostics channels: a bench can check what runLoad's keep-alive clients got (which
// release answered each request) without a second load generator beside bench/lib/load.ts.
import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';

export interface ObservedResponse {
  /** The request's Host header (runLoad sends its target's `host`). */
  host: string;
  /** performance.now() when the request was created, and when its body ended. */
  sentAt: number;
  endedAt: number;
  status: number;
  body: string;
}

/**
 * Calls `onResponse` with every complete answer to a request for `path` (other requests of
 * the process, such as probes or hub API calls, use other paths); stops when the returned
 * function is called. An answer cut off before its end is not seen (runLoad counts it failed).
 */
export function watchResponses(
  path: string,
  onResponse: (response: ObservedResponse) => void,
): () => void {
  const sent = new WeakMap<ClientRequest, number>();
  const onStart = (message: unknown): void => {
    const { request } = message as { request: ClientRequest };
    if (request.path === path) sent.set(request, performance.now());
  };
  // Published before the request's own 'response' listeners run, so no chunk is missed.
  const onFinish = (message: unknown): void => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    const sentAt = sent.get(request);
    if (sentAt === undefined) return;
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () =>
      onResponse({
        host: String(request.getHeader('host') ?? ''),
        sentAt,
        endedAt: performance.now(),
        status: response.statusCode ?? 0,
        body: Buffer.concat(chunks).toString('utf8'),
      }),
    );
  };
  diagnostics.subscribe('http.client.request.start', onStart);
  diagnostics.subscribe('http.client.response.finish', onFinish);
  return () => {
    diagnostics.unsubscribe('http.client.request.start', onStart);
    diagnostics.unsubscribe('http.client.response.finish', onFinish);
  };
}
