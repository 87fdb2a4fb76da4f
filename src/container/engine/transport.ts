// HTTP to the Docker Engine over its unix socket (node:http with `socketPath`), pinned to API
// v1.41, the version docker.io 20.10 speaks and newer engines still accept. The raw API
// instead of dockerode keeps dependencies small and lets every answer be checked with zod
// (`parseAnswer`) before anything reads it. One connection per request (`agent: false`):
// nothing lingers after a call, and a follow stream never waits behind a pooled socket.
import http from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import type { z } from 'zod';
import {
  EngineError,
  EngineProtocolError,
  EngineTimeoutError,
  EngineUnavailableError,
  redact,
} from './errors.ts';

export const API_VERSION = '1.41';
export const DEFAULT_SOCKET_PATH = '/var/run/docker.sock';

/** A unary call fails after this long without a byte from the engine. */
const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
const MAX_ERROR_BODY = 64 * 1024;
/** Inspect and list answers; a list of thousands of containers stays well below. */
const MAX_JSON_BODY = 64 * 1024 * 1024;
/** Connect errors that mean "no engine here", as opposed to a failed request. */
const UNAVAILABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ENOTSOCK']);

export type QueryValue = string | number | boolean | readonly string[] | undefined;

export interface EngineRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  /** Below the version prefix, e.g. `/containers/json`; path parameters already encoded. */
  path: string;
  /** Arrays repeat the key (`changes=…&changes=…`); undefined values are left out. */
  query?: Record<string, QueryValue>;
  json?: unknown;
  /** A byte stream sent as the body (an image tar), instead of `json`. */
  upload?: { stream: Readable; contentType: string };
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Idle time before the call fails; false for streams that may rightly stay silent. */
  timeoutMs?: number | false;
  /** Statuses that count as success besides 2xx (304 "already started/stopped"). */
  accept?: readonly number[];
  /** The typed error for a failed answer of this call; undefined falls back to EngineError. */
  failure?: (answer: EngineAnswer) => EngineError | undefined;
  /** Text to hide from every error message: registry passwords, encoded auth headers. */
  secrets?: readonly string[];
}

/** A failed answer: its status and the engine's message (redacted). */
export interface EngineAnswer {
  statusCode: number;
  message: string;
}

export interface EngineTransportOptions {
  socketPath?: string;
  /** Idle timeout of unary calls; default 120 s. */
  timeoutMs?: number;
}

export class EngineTransport {
  readonly socketPath: string;
  private readonly timeoutMs: number;

  constructor(options: EngineTransportOptions = {}) {
    this.socketPath = options.socketPath ?? DEFAULT_SOCKET_PATH;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  }

  /** Sends `request`; resolves with the response (body unread) once its status is a success. */
  async open(request: EngineRequest): Promise<http.IncomingMessage> {
    const response = await this.send(request);
    const statusCode = response.statusCode ?? 0;
    if ((statusCode >= 200 && statusCode < 300) || request.accept?.includes(statusCode)) {
      return response;
    }
    const body = await readText(response, MAX_ERROR_BODY, request).catch(() => '');
    const answer = { statusCode, message: redact(engineMessage(body), request.secrets ?? []) };
    throw request.failure?.(answer) ?? failedCall(request, answer);
  }

  /** A call whose answer is JSON, checked against `schema`. */
  async json<S extends z.ZodType>(schema: S, request: EngineRequest): Promise<z.output<S>> {
    const response = await this.open(request);
    const text = await readText(response, MAX_JSON_BODY, request);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw unexpected(request.path, 'an answer that is not JSON');
    }
    return parseAnswer(schema, value, request.path);
  }

  /** A call whose answer has no body worth reading; resolves with its status (204, 304, …). */
  async call(request: EngineRequest): Promise<number> {
    const response = await this.open(request);
    await readText(response, MAX_ERROR_BODY, request);
    return response.statusCode ?? 0;
  }

  private send(request: EngineRequest): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...request.headers };
      let body: string | undefined;
      if (request.json !== undefined) {
        body = JSON.stringify(request.json);
        headers['Content-Type'] = 'application/json';
      } else if (request.upload !== undefined) {
        headers['Content-Type'] = request.upload.contentType;
      }
      const outgoing = http.request(
        {
          socketPath: this.socketPath,
          method: request.method,
          path: `/v${API_VERSION}${request.path}${queryString(request.query)}`,
          headers,
          agent: false,
          ...(request.signal === undefined ? {} : { signal: request.signal }),
        },
        resolve,
      );
      const timeoutMs = request.timeoutMs ?? this.timeoutMs;
      if (timeoutMs !== false) {
        outgoing.setTimeout(timeoutMs, () =>
          outgoing.destroy(
            new EngineTimeoutError(
              `the Docker Engine did not answer ${request.method} ${request.path} within ${timeoutMs / 1000} s`,
              { hint: 'dockerd is overloaded or stuck: see its log' },
            ),
          ),
        );
      }
      outgoing.on('error', (error) => reject(this.translate(error, request)));
      if (request.upload === undefined) {
        outgoing.end(body);
      } else {
        // An error reading the upload fails the request (and so this promise).
        pipeline(request.upload.stream, outgoing, (error) => {
          if (error) outgoing.destroy(error);
        });
      }
    });
  }

  /** A socket-level error as the caller should see it: the abort reason, or a typed error. */
  translate(error: unknown, request: Pick<EngineRequest, 'signal' | 'method' | 'path'>): unknown {
    if (request.signal?.aborted) return request.signal.reason;
    if (error instanceof EngineError) return error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined && UNAVAILABLE.has(code)) {
      return new EngineUnavailableError(this.socketPath, error as NodeJS.ErrnoException);
    }
    return new EngineError(
      `${request.method} ${request.path} to the Docker Engine failed: ${(error as Error).message}`,
      { hint: 'dockerd closed the connection: see its log (did it restart?)', cause: error },
    );
  }
}

/** `{"label": ["a=b"]}` as the `filters` query parameter the engine wants. */
export function filtersQuery(filters: Record<string, readonly string[]>): string | undefined {
  const present = Object.entries(filters).filter(([, values]) => values.length > 0);
  return present.length === 0 ? undefined : JSON.stringify(Object.fromEntries(present));
}

/** Label filters: `{stack: 'x'}` matches containers labelled stack=x; `['k']` any value of k. */
export function labelFilter(labels: Record<string, string> | readonly string[]): string[] {
  return Array.isArray(labels)
    ? [...labels]
    : Object.entries(labels).map(([key, value]) => `${key}=${value}`);
}

/** Checks a value the engine sent against `schema`; a mismatch is an EngineProtocolError. */
export function parseAnswer<S extends z.ZodType>(schema: S, value: unknown, what: string) {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw unexpected(what, `${issue?.message ?? 'an unexpected value'}${where}`);
  }
  return result.data as z.output<S>;
}

/** Reads a whole (small) body; more than `limit` bytes is a protocol error. */
export async function readText(
  response: http.IncomingMessage,
  limit: number,
  request: Pick<EngineRequest, 'signal' | 'path'>,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        response.destroy();
        throw unexpected(request.path, `an answer larger than ${limit} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (request.signal?.aborted) throw request.signal.reason;
    throw error;
  }
  return Buffer.concat(chunks).toString('utf8');
}

function queryString(query: Record<string, QueryValue> | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) params.append(key, item);
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** The engine's error body is `{"message": "…"}`; older paths answer plain text. */
function engineMessage(body: string): string {
  try {
    const value: unknown = JSON.parse(body);
    if (typeof value === 'object' && value !== null && 'message' in value) {
      return String((value as { message: unknown }).message).trim();
    }
  } catch {
    // Not JSON: the text itself.
  }
  return body.trim() || 'no message';
}

function failedCall(request: EngineRequest, answer: EngineAnswer): EngineError {
  return new EngineError(
    `the Docker Engine refused ${request.method} ${request.path}: ${answer.message}`,
    {
      statusCode: answer.statusCode,
      engineMessage: answer.message,
      hint:
        answer.statusCode >= 500
          ? 'dockerd failed: see its log for the cause'
          : answer.statusCode === 400
            ? "the engine rejected the request's parameters: check the values in the stack file"
            : 'see the message above',
    },
  );
}

/** The engine sent something this client cannot read. */
export function unexpected(what: string, detail: string): EngineProtocolError {
  return new EngineProtocolError(`the Docker Engine answered ${what} with ${detail}`, {
    hint: `is this a Docker Engine speaking API v${API_VERSION} or newer? (docker.io 20.10 and later do)`,
  });
}
