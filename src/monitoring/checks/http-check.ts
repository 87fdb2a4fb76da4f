// HTTP(S) monitor check: one request, judged by status, an optional keyword in the body
// (read up to 1 MiB) and an optional latency limit; latency is measured to the response
// headers. Redirects are answers, not hops (any 2xx/3xx is up by default). A route check
// dials the gateway (`dial`, e.g. 127.0.0.1:443) while naming the route's host in SNI and
// Host, and can trust one extra CA (Caddy's internal root, for *.localhost routes) on top
// of the system's: TLS is always verified.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { describeError } from '../../system/network-errors.ts';
import type { HttpCheckRequest } from '../check-request.ts';
import { formatDuration, runProbe } from '../deadline.ts';
import { elapsedMs, type CheckOptions, type CheckResult } from './check-result.ts';

/** The most of a body a keyword is looked for in: enough for a page, not for a download. */
export const KEYWORD_BODY_LIMIT = 1024 * 1024;

export type HttpCheckSpec = Omit<HttpCheckRequest, 'kind' | 'timeout_ms' | 'trust_gateway_ca'> & {
  /** A PEM file of one more CA to trust besides the system's; a local path, never the hub's. */
  caFile?: string;
};

/** Whether `status` is up: one of `statuses`, or by default any 2xx or 3xx. */
export function statusAccepted(status: number, statuses?: readonly number[]): boolean {
  return statuses === undefined ? status >= 200 && status <= 399 : statuses.includes(status);
}

/** Node's certificate errors carry codes like CERT_HAS_EXPIRED or ERR_TLS_CERT_ALTNAME_INVALID. */
function isTlsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /CERT|SIGNATURE|TLS|SSL/.test(code);
}

function describeHttpError(error: unknown): string {
  return isTlsError(error) ? `TLS: ${describeError(error)}` : describeError(error);
}

/** `valid_to` of the peer certificate ("Mar  1 12:00:00 2027 GMT") in ms, when there is one. */
function certificateExpiry(socket: unknown): number | undefined {
  if (!(socket instanceof tls.TLSSocket)) return undefined;
  const validTo = socket.getPeerCertificate().valid_to;
  const at = validTo ? Date.parse(validTo) : NaN;
  return Number.isNaN(at) ? undefined : at;
}

/** Reads up to KEYWORD_BODY_LIMIT bytes and says whether `keyword` is in them. */
function bodyContains(response: http.IncomingMessage, keyword: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      response.removeAllListeners('data');
      response.destroy();
      resolve(Buffer.concat(chunks).subarray(0, KEYWORD_BODY_LIMIT).includes(keyword));
    };
    response.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= KEYWORD_BODY_LIMIT) done();
    });
    response.once('end', done);
    response.once('error', reject);
  });
}

function judge(
  spec: HttpCheckSpec,
  status: number,
  latencyMs: number,
  found: boolean | undefined,
): { ok: boolean; detail: string } {
  const line = `HTTP ${status} in ${formatDuration(Math.round(latencyMs))}`;
  if (!statusAccepted(status, spec.status.length > 0 ? spec.status : undefined))
    return { ok: false, detail: line };
  if (found === false)
    return { ok: false, detail: `${line}, without "${spec.keyword}" in the body` };
  if (spec.max_latency_ms !== undefined && latencyMs > spec.max_latency_ms)
    return { ok: false, detail: `${line}, over the ${formatDuration(spec.max_latency_ms)} limit` };
  return { ok: true, detail: line };
}

async function trustedRoots(caFile: string | undefined): Promise<string[] | undefined> {
  if (caFile === undefined) return undefined;
  return [...tls.rootCertificates, await readFile(caFile, 'utf8')];
}

export function httpCheck(spec: HttpCheckSpec, options: CheckOptions): Promise<CheckResult> {
  return runProbe(options, async (signal): Promise<CheckResult> => {
    const url = new URL(spec.url);
    let ca: string[] | undefined;
    try {
      ca = await trustedRoots(spec.caFile);
    } catch (error) {
      return {
        ok: false,
        detail: `the CA file ${spec.caFile} is unreadable: ${describeError(error)}`,
      };
    }
    // URL keeps an IPv6 literal's brackets; a socket wants the bare address.
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const secure = url.protocol === 'https:';
    const startedAt = performance.now();
    return new Promise<CheckResult>((resolve, reject) => {
      const request = (secure ? https : http).request(
        {
          method: spec.method,
          host: spec.dial?.host ?? hostname,
          port: spec.dial?.port ?? (url.port === '' ? (secure ? 443 : 80) : Number(url.port)),
          path: `${url.pathname}${url.search}`,
          // Host from the URL also when dialling elsewhere (the schema refuses a Host header).
          headers: { 'user-agent': 'flotilla-monitor', ...spec.headers, host: url.host },
          ...(url.username !== '' && {
            auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
          }),
          // SNI names a host, never an address (RFC 6066).
          ...(secure && net.isIP(hostname) === 0 && { servername: hostname }),
          ...(ca && { ca }),
          signal,
          // A fresh connection per check: a pooled one would hide a dead server or a new certificate.
          agent: false,
        },
        (response) => {
          const latencyMs = elapsedMs(startedAt);
          const status = response.statusCode ?? 0;
          const certificateExpiresAt = certificateExpiry(response.socket);
          const finish = (found: boolean | undefined) =>
            resolve({
              ...judge(spec, status, latencyMs, found),
              latencyMs,
              status,
              ...(certificateExpiresAt !== undefined && { certificateExpiresAt }),
            });
          if (spec.keyword === undefined) {
            response.destroy();
            finish(undefined);
          } else bodyContains(response, spec.keyword).then(finish, reject);
        },
      );
      request.once('error', (error) => reject(new Error(describeHttpError(error))));
      request.end();
    });
  });
}
