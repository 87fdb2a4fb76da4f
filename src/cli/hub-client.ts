// The CLI's side of the hub API: authenticated JSON calls and server-sent event streams.
import http from 'node:http';
import type { ApiEndpoint } from '../hub/api-endpoint.ts';

export class HubUnreachable extends Error {}

export class HubRequestFailed extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export class HubClient {
  constructor(private readonly endpoint: ApiEndpoint) {}

  async get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  async post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  async delete<T>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  /** Sends bytes (an upload) with `headers`; the answer is JSON. */
  async upload<T>(path: string, data: Buffer, headers: Record<string, string>): Promise<T> {
    const response = await this.request('POST', path, data, undefined, {
      ...headers,
      'content-type': 'application/octet-stream',
      'content-length': String(data.length),
    });
    if (response.statusCode !== 200) throw await failure(response);
    return JSON.parse(await readAll(response)) as T;
  }

  /**
   * Calls `onEvent` for each server-sent event until the stream ends or `signal` aborts; a
   * `body` makes it a POST (a deploy's progress).
   */
  async events(
    path: string,
    onEvent: (event: string, data: unknown) => boolean | void,
    signal?: AbortSignal,
    body?: unknown,
  ): Promise<void> {
    const response = await this.request(body === undefined ? 'GET' : 'POST', path, body, signal);
    if (response.statusCode !== 200) throw await failure(response);
    let buffer = '';
    await new Promise<void>((resolve, reject) => {
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let boundary: number;
        while ((boundary = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (onEvent(event, data === undefined ? undefined : JSON.parse(data)) === false) {
            response.destroy();
            resolve();
            return;
          }
        }
      });
      response.on('end', resolve);
      response.on('close', resolve);
      response.on('error', (error) => (signal?.aborted ? resolve() : reject(error)));
    });
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.request(method, path, body);
    if (response.statusCode !== 200 && response.statusCode !== 202) throw await failure(response);
    return JSON.parse(await readAll(response)) as T;
  }

  private request(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    headers: Record<string, string> = { 'content-type': 'application/json' },
  ): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const request = http.request(
        `${this.endpoint.url}${path}`,
        {
          method,
          agent: false,
          signal,
          headers: { authorization: `Bearer ${this.endpoint.token}`, ...headers },
        },
        resolve,
      );
      request.on('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'ECONNREFUSED'
            ? new HubUnreachable(`no hub answers at ${this.endpoint.url}`)
            : error,
        ),
      );
      request.end(
        body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
      );
    });
  }
}

async function readAll(response: http.IncomingMessage): Promise<string> {
  let text = '';
  response.setEncoding('utf8');
  for await (const chunk of response) text += chunk as string;
  return text;
}

async function failure(response: http.IncomingMessage): Promise<HubRequestFailed> {
  const text = await readAll(response);
  try {
    const parsed = JSON.parse(text) as { error?: string; details?: unknown };
    return new HubRequestFailed(response.statusCode ?? 0, parsed.error ?? text, parsed.details);
  } catch {
    return new HubRequestFailed(response.statusCode ?? 0, text);
  }
}
