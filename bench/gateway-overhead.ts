// bench/gateway-overhead: what the gateway costs. The same tiny app instance is loaded
// directly (HTTP on loopback, the baseline) and through Caddy (HTTPS with the stack's
// internal CA, https://hello.localhost:18444/), in the same run, with the same client
// (bench/lib/load.ts: closed-loop keep-alive clients), the same concurrency and the same
// duration. Rounds alternate direct and gateway so drift hits both alike.
//
//   node_modules/.bin/tsx bench/gateway-overhead.ts
//   BENCH_CONCURRENCY=1,4,16 BENCH_ROUND_S=10 BENCH_ROUNDS=3 node_modules/.bin/tsx bench/gateway-overhead.ts
//
// Prints throughput and p50/p90/p99 latency of both, their ratios (gateway / direct), and
// the CPU each process spent per 1,000 requests. There is no pass/fail goal: figures only.
// The exit status is non-zero only when something crashes.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readInstanceRecord } from '../src/agent/process/instance-records.ts';
import { cpuDuring } from './lib/cpu.ts';
import { runLoad, type LoadResult, type Target } from './lib/load.ts';
import {
  caPath,
  cliOk,
  createStack,
  downAndTeardown,
  eventually,
  FIXTURES,
  hubStatus,
  machineLine,
  runBench,
} from './lib/stack.ts';
import { fmt, percentileSorted, ratio, table } from './lib/stats.ts';

const CONCURRENCIES = (process.env['BENCH_CONCURRENCY'] ?? '1,8').split(',').map(Number);
const ROUND_MS = Number(process.env['BENCH_ROUND_S'] ?? 5) * 1000;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const WARMUP_MS = 1500;
const HOST = 'hello.localhost';
const HTTPS_PORT = 18444;
const DIRECT_PORT = 18200;
/** Bounds the loop in count too: far above what one round reaches on this machine. */
const MAX_REQUESTS_PER_ROUND = 2_000_000;

interface Totals {
  label: string;
  requests: number;
  ok: number;
  failed: number;
  failures: Record<string, number>;
  durationMs: number;
  latencies: number[];
  connections: number;
  cpuMs: Record<string, number>;
}

function add(totals: Totals, result: LoadResult, cpuMs: Record<string, number>): void {
  totals.requests += result.requests;
  totals.ok += result.ok;
  totals.failed += result.failed;
  for (const [kind, count] of Object.entries(result.failures))
    totals.failures[kind] = (totals.failures[kind] ?? 0) + count;
  totals.durationMs += result.durationMs;
  for (const latency of result.latencies) totals.latencies.push(latency);
  totals.connections += result.connections;
  for (const [name, ms] of Object.entries(cpuMs))
    totals.cpuMs[name] = (totals.cpuMs[name] ?? 0) + ms;
}

async function main(): Promise<void> {
  console.log(await machineLine('gateway-overhead'));
  console.log(
    `concurrency ${CONCURRENCIES.join(', ')}; ${ROUNDS} rounds × ${ROUND_MS / 1000} s per target, alternating, after ${WARMUP_MS / 1000} s warm-up each\n`,
  );
  const stack = await createStack('gateway', {
    yaml: await readFile(path.join(FIXTURES, 'gateway.yml'), 'utf8'),
    copy: [path.join(FIXTURES, 'hello-server.js')],
  });
  try {
    const up = await cliOk(stack, ['up', '--detach', '--timeout', '60', '-f', stack.file]);
    console.log(`up --detach: ${fmt(up.ms / 1000)} s`);
    const ca = await readFile(caPath(stack), 'utf8');
    const direct: Target = { label: 'direct', port: DIRECT_PORT, path: '/', host: '127.0.0.1' };
    const gateway: Target = { label: 'gateway', port: HTTPS_PORT, path: '/', host: HOST, ca };
    await eventually(
      async () => {
        const probe = await runLoad(gateway, { concurrency: 1, durationMs: 1, maxRequests: 1 });
        return probe.ok === 1 ? true : undefined;
      },
      10_000,
      'the gateway to answer',
    );
    const report = await hubStatus(stack);
    const appPid = report.instances.find((instance) => instance.id === 'hello-1')?.pid;
    const caddyPid = readInstanceRecord(path.join(stack.stateDir, 'caddy'), 'caddy')?.pid;
    if (appPid === undefined || caddyPid === undefined)
      throw new Error('no PID for the app instance or Caddy');
    const pids = { client: 'self' as const, caddy: caddyPid, app: appPid };

    const rows: string[][] = [
      ['conc', 'target', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'failed', 'conns'],
    ];
    const ratioRows: string[][] = [
      ['conc', 'req/s g/d', 'p50 g/d', 'p99 g/d', '+p50 ms', '+p99 ms'],
    ];
    const cpuRows: string[][] = [['conc', 'target', 'client', 'caddy', 'app', 'total']];
    for (const concurrency of CONCURRENCIES) {
      const options = { concurrency, maxRequests: MAX_REQUESTS_PER_ROUND };
      for (const target of [direct, gateway])
        await runLoad(target, { ...options, durationMs: WARMUP_MS });
      const totals = new Map<string, Totals>();
      for (const target of [direct, gateway])
        totals.set(target.label, {
          label: target.label,
          requests: 0,
          ok: 0,
          failed: 0,
          failures: {},
          durationMs: 0,
          latencies: [],
          connections: 0,
          cpuMs: {},
        });
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate which target goes first, so neither always follows the other.
        const order = round % 2 === 0 ? [direct, gateway] : [gateway, direct];
        for (const target of order) {
          const { value, cpuMs } = await cpuDuring(pids, () =>
            runLoad(target, { ...options, durationMs: ROUND_MS }),
          );
          add(totals.get(target.label)!, value, cpuMs);
        }
      }
      const figures = new Map<string, { throughput: number; p50: number; p99: number }>();
      for (const total of totals.values()) {
        const sorted = Float64Array.from(total.latencies).sort();
        const throughput = total.ok / (total.durationMs / 1000);
        const p50 = percentileSorted(sorted, 50);
        const p99 = percentileSorted(sorted, 99);
        figures.set(total.label, { throughput, p50, p99 });
        rows.push([
          String(concurrency),
          total.label,
          fmt(throughput),
          fmt(p50),
          fmt(percentileSorted(sorted, 90)),
          fmt(p99),
          fmt(sorted[sorted.length - 1] ?? Number.NaN),
          String(total.failed),
          String(total.connections),
        ]);
        const per1000 = (ms: number) => fmt((ms / total.requests) * 1000);
        const cpu = total.cpuMs;
        cpuRows.push([
          String(concurrency),
          total.label,
          per1000(cpu['client']!),
          per1000(cpu['caddy']!),
          per1000(cpu['app']!),
          per1000(cpu['client']! + cpu['caddy']! + cpu['app']!),
        ]);
        if (total.failed > 0)
          console.log(
            `  ${total.label} at ${concurrency}: failures ${JSON.stringify(total.failures)}`,
          );
      }
      const d = figures.get('direct')!;
      const g = figures.get('gateway')!;
      ratioRows.push([
        String(concurrency),
        ratio(g.throughput, d.throughput),
        ratio(g.p50, d.p50),
        ratio(g.p99, d.p99),
        fmt(g.p50 - d.p50),
        fmt(g.p99 - d.p99),
      ]);
    }
    console.log(`\n${table(rows)}`);
    console.log(`\ngateway / direct:\n${table(ratioRows)}`);
    console.log(`\nCPU ms per 1,000 requests (client = this bench process):\n${table(cpuRows)}`);
    console.log('\nno pass/fail goal for this bench: figures and ratios only');
  } finally {
    await downAndTeardown(stack);
  }
}

runBench(main);
