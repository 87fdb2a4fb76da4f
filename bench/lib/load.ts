// A small closed-loop load generator: `concurrency` clients, each sending one GET at a time
// over a keep-alive connection (HTTP, or HTTPS trusting only the given CA) until the
// duration or the request cap runs out. Every request is timed with performance.now();
// non-2xx answers and errors are counted, never thrown.
import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Target {
  /** How reports name it. */
  label: string;
  /** 127.0.0.1 unless set (a lab node's address, from inside the lab's internet). */
  address?: string;
  port: number;
  path: string;
  /** Host header, and the TLS server name for HTTPS. */
  host: string;
  /** Set for HTTPS: the CA that signs the server's certificate (e.g. Caddy's internal CA). */
  ca?: string;
}

export interface RequestResult {
  /** performance.now() when the request was sent. */
  at: number;
  latencyMs: number;
  /** 0 when the request failed before a status line arrived. */
  status: number;
  error?: string;
  /** Sent on a kept-alive connection that had served earlier requests. */
  reused: boolean;
  client: number;
}

export interface LoadOptions {
  concurrency: number;
  durationMs: number;
  /** Hard cap on requests, so the loop is bounded in count as well as in time. */
  maxRequests?: number;
  /** Pause after each answer, per client (0: back to back). */
  pauseMs?: number;
  timeoutMs?: number;
  onResult?: (result: RequestResult) => void;
}

export interface LoadResult {
  label: string;
  durationMs: number;
  requests: number;
  ok: number;
  failed: number;
  /** Failures by kind: `HTTP 502`, `ECONNRESET (reused connection)`, `timeout`… */
  failures: Record<string, number>;
  /** Latencies (ms) of the successful requests, sorted. */
  latencies: Float64Array;
  /** Successful requests per second. */
  throughput: number;
  /** TCP (or TLS) connections opened: keep-alive should keep this at `concurrency`. */
  connections: number;
}

const ERROR_PAUSE_MS = 10;

export async function runLoad(target: Target, options: LoadOptions): Promise<LoadResult> {
  const secure = target.ca !== undefined;
  const agentOptions = { keepAlive: true, maxSockets: options.concurrency, keepAliveMsecs: 1000 };
  const agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  let connections = 0;
  const seen = new WeakSet<object>();
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let requests = 0;
  let failed = 0;
  const maxRequests = options.maxRequests ?? Number.POSITIVE_INFINITY;
  const timeoutMs = options.timeoutMs ?? 10_000;

  const once = (): Promise<{ status: number; error?: string; reused: boolean }> =>
    new Promise((resolve) => {
      let reused = false;
      const requestOptions: https.RequestOptions = {
        host: target.address ?? '127.0.0.1',
        port: target.port,
        path: target.path,
        method: 'GET',
        agent,
        headers: { host: target.host },
        timeout: timeoutMs,
      };
      if (secure) Object.assign(requestOptions, { ca: target.ca, servername: target.host });
      const request = (secure ? https : http).request(requestOptions, (response) => {
        response.on('data', () => {});
        response.on('end', () => resolve({ status: response.statusCode ?? 0, reused }));
        response.on('error', (error: NodeJS.ErrnoException) =>
          resolve({ status: 0, error: error.code ?? error.message, reused }),
        );
      });
      request.on('socket', (socket) => {
        // A reused keep-alive socket is already connected; only new ones count.
        reused = seen.has(socket);
        if (!reused) {
          seen.add(socket);
          connections += 1;
        }
      });
      request.on('timeout', () =>
        request.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })),
      );
      request.on('error', (error: NodeJS.ErrnoException) =>
        resolve({ status: 0, error: error.code ?? error.message, reused }),
      );
      request.end();
    });

  const started = performance.now();
  const end = started + options.durationMs;
  const client = async (index: number) => {
    while (performance.now() < end && requests < maxRequests) {
      requests += 1;
      const at = performance.now();
      const answer = await once();
      const latencyMs = performance.now() - at;
      const good = answer.error === undefined && answer.status >= 200 && answer.status < 300;
      if (good) latencies.push(latencyMs);
      else {
        failed += 1;
        const kind =
          answer.error === undefined
            ? `HTTP ${answer.status}`
            : `${answer.error}${answer.reused ? ' (reused connection)' : ''}`;
        failures[kind] = (failures[kind] ?? 0) + 1;
      }
      options.onResult?.({
        at,
        latencyMs,
        status: answer.status,
        reused: answer.reused,
        client: index,
        ...(answer.error === undefined ? {} : { error: answer.error }),
      });
      if (!good) await sleep(ERROR_PAUSE_MS);
      else if (options.pauseMs) await sleep(options.pauseMs);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, index) => client(index)));
  const durationMs = performance.now() - started;
  agent.destroy();
  const sorted = Float64Array.from(latencies).sort();
  return {
    label: target.label,
    durationMs,
    requests,
    ok: latencies.length,
    failed,
    failures,
    latencies: sorted,
    throughput: latencies.length / (durationMs / 1000),
    connections,
  };
}

/** One GET with its body (for probes that read the answer); never throws. */
export function fetchText(
  target: Target,
  agent?: http.Agent,
  timeoutMs = 5000,
): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const secure = target.ca !== undefined;
    const options: https.RequestOptions = {
      host: '127.0.0.1',
      port: target.port,
      path: target.path,
      method: 'GET',
      agent: agent ?? false,
      headers: { host: target.host },
      timeout: timeoutMs,
    };
    if (secure) Object.assign(options, { ca: target.ca, servername: target.host });
    const request = (secure ? https : http).request(options, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', (error: NodeJS.ErrnoException) =>
        resolve({ status: 0, body, error: error.code ?? error.message }),
      );
    });
    request.on('timeout', () =>
      request.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })),
    );
    request.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ status: 0, body: '', error: error.code ?? error.message }),
    );
    request.end();
  });
}
