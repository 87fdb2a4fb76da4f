// A health probe as the agent's instance runners hold it: one check of one of its own
// instances, run under the shared deadline contract (src/monitoring/deadline.ts).
import type { ProbeResult } from '../../monitoring/deadline.ts';

/** One check of one instance; `signal` cancels it early (the monitor stopping). */
export type Probe = (signal?: AbortSignal) => Promise<ProbeResult>;

/** Every probe targets its own node's instances. */
export const PROBE_HOST = '127.0.0.1';
