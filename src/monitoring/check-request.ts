// The contract of one monitor check, as the hub runs it itself or asks an agent to run it
// (the signed request `monitor.check`, answered with a CheckResult): an HTTP(S) or TCP check, validated on arrival even
// though the hub signed it. What it may ask is narrow on purpose: http(s) URLs only (no
// file:, so a check cannot read the node's files), GET/HEAD/POST without a body, a few
// small headers, a bounded timeout. A path to a CA file is never part of it: the runner
// trusts its own gateway's CA when asked (`trust_gateway_ca`), from a path it knows itself.
import { z } from 'zod';
import { durationMs } from '../spec/formats.ts';
import type { MonitorSpec } from '../spec/schema.ts';
import type { CheckResult } from './checks/check-result.ts';

/** The headers of one check, names and values together: far above what a probe needs. */
export const MAX_HEADER_BYTES = 8 * 1024;
export const MAX_CHECK_TIMEOUT_MS = 120_000;

/** An RFC 9110 token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
/** No request body, the connection is the check's to manage, and the URL names the host. */
const FORBIDDEN_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'te',
  'trailer',
  'expect',
]);

const port = z.number().int().min(1).max(65_535);
/** A host name or an IP address, as a dial target: no scheme, path or port. */
const host = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9._:-]+$/, { message: 'a host name or IP address' });
const timeoutMs = z.number().int().min(100).max(MAX_CHECK_TIMEOUT_MS);

const headers = z
  .record(
    z.string().regex(HEADER_NAME, { message: 'not a valid header name' }),
    z.string().regex(/^[^\r\n\0]*$/, { message: 'a header value is one line' }),
  )
  .default({})
  .superRefine((record, ctx) => {
    let bytes = 0;
    for (const [name, value] of Object.entries(record)) {
      if (FORBIDDEN_HEADERS.has(name.toLowerCase()))
        ctx.addIssue({ code: 'custom', message: `header ${name} is not allowed in a check` });
      bytes += name.length + value.length;
    }
    if (bytes > MAX_HEADER_BYTES)
      ctx.addIssue({
        code: 'custom',
        message: `headers of ${bytes} bytes, over the ${MAX_HEADER_BYTES} a check may send`,
      });
  });

export const httpCheckRequestSchema = z.strictObject({
  kind: z.literal('http'),
  url: z
    .url({ protocol: /^https?$/, message: 'not an http(s) URL' })
    .max(2048, { message: 'a URL of at most 2048 characters' }),
  method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
  /** The statuses that count as up; empty: any 2xx or 3xx. */
  status: z.array(z.number().int().min(100).max(599)).max(64).default([]),
  keyword: z.string().min(1).max(1024).optional(),
  max_latency_ms: z.number().int().positive().optional(),
  headers,
  /** Connect here instead of the URL's host, still sending the URL's host as SNI and Host. */
  dial: z.strictObject({ host, port }).optional(),
  /** Also trust the CA of the runner's own gateway (Caddy's internal CA, for *.localhost). */
  trust_gateway_ca: z.boolean().default(false),
  timeout_ms: timeoutMs,
});

export const tcpCheckRequestSchema = z.strictObject({
  kind: z.literal('tcp'),
  host,
  port,
  timeout_ms: timeoutMs,
});

export const checkRequestSchema = z.discriminatedUnion('kind', [
  httpCheckRequestSchema,
  tcpCheckRequestSchema,
]);
export type CheckRequest = z.output<typeof checkRequestSchema>;
export type HttpCheckRequest = z.output<typeof httpCheckRequestSchema>;
export type TcpCheckRequest = z.output<typeof tcpCheckRequestSchema>;

/** An agent's answer to `monitor.check`, as the hub reads it back. */
export const checkResultSchema = z.object({
  ok: z.boolean(),
  detail: z.string(),
  latencyMs: z.number().nonnegative().optional(),
  certificateExpiresAt: z.number().optional(),
  status: z.number().int().optional(),
}) satisfies z.ZodType<CheckResult>;

/** A check request that is not one: says what is wrong with it, field by field. */
export class InvalidCheckRequestError extends Error {
  override readonly name = 'InvalidCheckRequestError';
}

export function parseCheckRequest(value: unknown): CheckRequest {
  const parsed = checkRequestSchema.safeParse(value);
  if (!parsed.success)
    throw new InvalidCheckRequestError(`invalid check request: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The check a declared monitor runs; undefined for a heartbeat, which is pushed, not run. */
export function monitorCheckRequest(monitor: MonitorSpec): CheckRequest | undefined {
  const timeout_ms = Math.min(durationMs(monitor.timeout), MAX_CHECK_TIMEOUT_MS);
  if (monitor.http) {
    const { max_latency, ...http } = monitor.http;
    return parseCheckRequest({
      kind: 'http',
      ...http,
      ...(max_latency !== undefined && { max_latency_ms: durationMs(max_latency) }),
      timeout_ms,
    });
  }
  if (monitor.tcp) return parseCheckRequest({ kind: 'tcp', ...monitor.tcp, timeout_ms });
  return undefined;
}
