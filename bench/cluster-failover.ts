// bench/cluster-failover: node loss under steady load. A 3-node lab: the gateway (and hub)
// on n1, one replica of `web` on n2 and one on n3. Clients in the lab's internet namespace
// request https://web.bench.test through the gateway (trusting only the stack's CA) for
// BENCH_DURATION_S (default 20 s); 5 s in, n3's link is cut (its packets vanish, as when a
// VPS loses power or its network); 9 s later the link comes back.
//
//   node_modules/.bin/tsx bench/cluster-failover.ts
//
// Reported: failed requests (goal: 0 after the first second of the outage), the slowest
// requests during the outage, the time until n3's instance left rotation (the gateway's
// upstream DNS responder stopped answering it: bench/lib/dns-watch.ts asks it every 25 ms
// inside n1; Caddy follows within its 100 ms refresh) and until it was back after the link
// returned.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LabCluster } from '../test/helpers/lab-cluster.ts';
import type { TimedResult } from './lib/load-in-namespace.ts';
import { machineLine, onCleanup, runBench, sleep } from './lib/stack.ts';
import { fmt, max, percentileSorted } from './lib/stats.ts';
import { UpstreamWatch } from './lib/upstream-watch.ts';
import { upstreamName } from '../src/plan/caddy.ts';

const DURATION_MS = Number(process.env['BENCH_DURATION_S'] ?? 20) * 1000;
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 4);
const CUT_AT_MS = 5_000;
const OUTAGE_MS = 9_000;
const HOST = 'web.bench.test';
const STACK = path.resolve('bench/fixtures/cluster-failover.yml');
const N3_MESH = '100.97.0.3';
const WEB = upstreamName({ service: 'web', port: 'http' });

interface LoadReport {
  requests: number;
  ok: number;
  failed: number;
  failures: Record<string, number>;
  throughput: number;
  results: TimedResult[];
}

/** Runs the load generator inside the lab's internet namespace; resolves with its report. */
function loadFromInternet(cluster: LabCluster, ca: string): Promise<LoadReport> {
  const options = {
    target: {
      label: 'gateway',
      address: cluster.labNode('n1').address,
      port: 443,
      path: '/',
      host: HOST,
      ca,
    },
    concurrency: CONCURRENCY,
    durationMs: DURATION_MS,
    maxRequests: 200_000,
    pauseMs: 2,
    timeoutMs: 10_000,
  };
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      cluster.lab.internetNamespace,
      process.execPath,
      '--import',
      'tsx',
      path.resolve('bench/lib/load-in-namespace.ts'),
      JSON.stringify(options),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as LoadReport)
        : reject(new Error(`load exited ${code}`)),
    ),
  );
}

/** Whether n3's instance of `web` is among the dials the gateway serves it with. */
const n3Serves = (sets: ReadonlyMap<string, readonly string[] | undefined>) =>
  sets.get(WEB)?.includes(`${N3_MESH}:8080`) === true;

async function main(): Promise<void> {
  console.log(await machineLine('cluster-failover'));
  const cluster = await LabCluster.start({ stackFile: STACK, nodes: ['n1', 'n2', 'n3'] });
  onCleanup(() => cluster.close());
  const ready = await cluster.until((report) => report.ready, 60_000);
  const ca = await readFile(ready.gateways['n1']!.ca_path!, 'utf8');

  // Which instances serve: the gateway's upstream DNS responder, on loopback inside n1.
  const watch = await UpstreamWatch.start(
    cluster.labNode('n1').namespace,
    path.join(cluster.stateDir('n1'), 'caddy'),
    [WEB],
  );
  if (!n3Serves(watch.current())) throw new Error(`n3 does not serve ${HOST} before the cut`);

  const started = Date.now();
  const load = loadFromInternet(cluster, ca);
  await sleep(CUT_AT_MS);
  const cutAt = Date.now();
  await cluster.cutLink('n3');
  const rerouteMs =
    (await watch.when((sets) => !n3Serves(sets), cutAt, 30_000, 'n3 leaving rotation')) - cutAt;
  await sleep(Math.max(0, cutAt + OUTAGE_MS - Date.now()));
  const restoredAt = Date.now();
  await cluster.restoreLink('n3');
  const backMs =
    (await watch.when(n3Serves, restoredAt, 30_000, 'n3 back in rotation')) - restoredAt;
  await watch.stop();
  const report = await load;

  const during = report.results.filter((r) => r.sentAt >= cutAt && r.sentAt < restoredAt);
  const afterFirstSecond = during.filter((r) => r.sentAt >= cutAt + 1_000);
  const failedEarly = during.filter((r) => !r.ok && r.sentAt < cutAt + 1_000).length;
  const failedLate = afterFirstSecond.filter((r) => !r.ok).length;
  const slow = during.filter((r) => r.latencyMs > 1_000).length;
  const latencies = Float64Array.from(during.filter((r) => r.ok).map((r) => r.latencyMs)).sort();
  const failures = Object.entries(report.failures).map(([kind, count]) => `${count}× ${kind}`);

  console.log(
    `load: ${CONCURRENCY} clients for ${fmt((Date.now() - started) / 1000)} s from the lab's internet, through the gateway (HTTPS)`,
  );
  console.log(
    `  requests ${report.requests}, ok ${report.ok}, failed ${report.failed}${failures.length ? ` (${failures.join(', ')})` : ''}, ${fmt(report.throughput)} req/s`,
  );
  console.log(`n3's link cut for ${OUTAGE_MS / 1000} s:`);
  console.log(
    `  upstream left rotation after ${rerouteMs} ms; back ${backMs} ms after the link returned`,
  );
  console.log(
    `  during the outage: ${during.length} requests, failed in its first second ${failedEarly}, failed after it ${failedLate} (goal 0)`,
  );
  console.log(
    `  latency during the outage: p50 ${fmt(percentileSorted(latencies, 50))} ms, p99 ${fmt(percentileSorted(latencies, 99))} ms, max ${fmt(max([...latencies]))} ms; ${slow} took over 1 s`,
  );
  console.log(
    failedLate === 0
      ? 'PASS: no failed request after the first second'
      : 'FAIL: requests failed after the first second',
  );
}

runBench(main);
