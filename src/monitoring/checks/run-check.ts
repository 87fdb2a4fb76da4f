// Runs one check request, wherever it was asked for: the hub runs the checks without a
// `from` node itself, an agent those the hub sends it (`monitor.check`). The request is
// trusted only after the schema (check-request.ts); the CA a route check trusts besides the
// system's is the runner's own gateway's, from a path the runner knows, never from the request.
import type { CheckRequest } from '../check-request.ts';
import type { CheckResult } from './check-result.ts';
import { httpCheck } from './http-check.ts';
import { tcpCheck } from './tcp-check.ts';

export interface RunCheckContext {
  /** Cancels the check (the runner stopping). */
  signal?: AbortSignal;
  /** The root certificate of this node's gateway CA (Caddy's internal one), if it runs one. */
  gatewayCaFile?: string;
}

export function runCheck(
  request: CheckRequest,
  context: RunCheckContext = {},
): Promise<CheckResult> {
  const options = {
    timeoutMs: request.timeout_ms,
    ...(context.signal && { signal: context.signal }),
  };
  if (request.kind === 'tcp') return tcpCheck(request, options);
  if (!request.trust_gateway_ca) return httpCheck(request, options);
  if (context.gatewayCaFile === undefined)
    return Promise.resolve({
      ok: false,
      detail: 'this node runs no gateway, so it has no gateway CA to trust',
    });
  return httpCheck({ ...request, caFile: context.gatewayCaFile }, options);
}
