// What a monitor's check answers, on the hub or on an agent: the health probes' `{ ok, detail }`
// plus what a monitor keeps beyond up/down (latency, the HTTP status, when the TLS certificate
// expires). Checks run under the probes' deadline helper (runProbe), so they too never throw.
import type { ProbeOptions } from '../deadline.ts';

export interface CheckResult {
  ok: boolean;
  /** Short human text for the monitor's state and alerts: `HTTP 503`, `connection refused`, … */
  detail: string;
  /** To the response headers (HTTP) or the accepted connection (TCP). */
  latencyMs?: number;
  /** When the TLS peer certificate expires, ms since epoch (HTTPS only). */
  certificateExpiresAt?: number;
  /** The HTTP status the check got. */
  status?: number;
}

export type CheckOptions = ProbeOptions;

/** Milliseconds since `startedAt` (a performance.now() reading), to a tenth. */
export function elapsedMs(startedAt: number): number {
  return Math.round((performance.now() - startedAt) * 10) / 10;
}
