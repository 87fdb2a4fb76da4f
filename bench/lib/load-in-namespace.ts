// runLoad in another network namespace (the lab's internet): run as
//   ip netns exec <ns> node --import tsx bench/lib/load-in-namespace.ts '<json options>'
// it prints one JSON document: the summary and every request's wall-clock time and outcome.
import { z } from 'zod';
import { runLoad, type RequestResult } from './load.ts';

const optionsSchema = z.object({
  target: z.object({
    label: z.string(),
    address: z.string(),
    port: z.number(),
    path: z.string(),
    host: z.string(),
    ca: z.string().optional(),
  }),
  concurrency: z.number().int().positive(),
  durationMs: z.number().positive(),
  maxRequests: z.number().int().positive(),
  pauseMs: z.number().min(0),
  timeoutMs: z.number().positive(),
});

export interface TimedResult {
  /** Wall-clock ms since the epoch: comparable with the other processes' clocks. */
  sentAt: number;
  latencyMs: number;
  ok: boolean;
  failure?: string;
}

const options = optionsSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
const results: TimedResult[] = [];
const record = (result: RequestResult) => {
  const ok = result.error === undefined && result.status >= 200 && result.status < 300;
  results.push({
    sentAt: performance.timeOrigin + result.at,
    latencyMs: result.latencyMs,
    ok,
    ...(ok ? {} : { failure: result.error ?? `HTTP ${result.status}` }),
  });
};
const summary = await runLoad(options.target, { ...options, onResult: record });
console.log(
  JSON.stringify({
    requests: summary.requests,
    ok: summary.ok,
    failed: summary.failed,
    failures: summary.failures,
    throughput: summary.throughput,
    results,
  }),
);
