// bench/container-start: container start → healthy through Flotilla's container runtime
// versus `docker run` + a health poll by hand, same dockerd, same image, same run.
//
//   node_modules/.bin/tsx bench/container-start.ts          # 15 rounds (BENCH_RUNS=n)
//
// A private dockerd (test/helpers/dockerd.ts) in a network namespace of its own, the busybox
// test image (httpd on 8080, published on that namespace's loopback); the rounds run there
// (bench/lib/container-start-rounds.ts says what each arm does), interleaved, after one
// warm-up round each. Goal: Flotilla's median ≤ 1.3× the baseline's. Needs root (dockerd);
// prints SKIPPED otherwise. A missed goal prints FAIL; the exit status is non-zero only when
// something crashes. Everything it starts (dockerd, containers, the namespace, temp dirs) is
// gone when it ends, also on Ctrl-C.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BENCH_IMAGE, startBenchDockerd } from './lib/bench-dockerd.ts';
import { type ArmTiming, roundsOutputSchema } from './lib/container-start-rounds.ts';
import { machineLine, onCleanup, ROOT, runBench } from './lib/stack.ts';
import { fmt, median, percentile, ratio, table } from './lib/stats.ts';

const ROUNDS = Number(process.env['BENCH_RUNS'] ?? 15);
const GOAL_RATIO = 1.3;
const ROUNDS_SCRIPT = path.join(ROOT, 'bench', 'lib', 'container-start-rounds.ts');
/** Loopback ports inside dockerd's own namespace: nothing else listens there. */
const PORTS = { flotillaPort: 18080, baselinePort: 18081 };

function row(name: string, timings: readonly ArmTiming[]): string[] {
  const healthy = timings.map((timing) => timing.healthyMs);
  const running = timings.map((timing) => timing.runningMs);
  return [
    name,
    String(timings.length),
    fmt(median(running)),
    fmt(median(healthy)),
    fmt(percentile(healthy, 90)),
    fmt(Math.min(...healthy)),
    fmt(Math.max(...healthy)),
  ];
}

async function main(): Promise<void> {
  console.log(await machineLine('container-start'));
  if (process.getuid?.() !== 0) {
    console.log('SKIPPED: a private dockerd needs root');
    return;
  }
  const bench = await startBenchDockerd();
  console.log(
    `dockerd ${(await bench.dockerd.engine.system.info()).serverVersion ?? '?'} (${bench.dockerd.storageDriver}), image ${BENCH_IMAGE}, ${ROUNDS} rounds each, interleaved\n`,
  );
  const dir = await mkdtemp(path.join(tmpdir(), 'flotilla-bench-container-start-'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  const options = {
    socketPath: bench.dockerd.socketPath,
    dir,
    image: BENCH_IMAGE,
    rounds: ROUNDS,
  };
  const rounds = await bench.run(
    [
      process.execPath,
      '--import',
      import.meta.resolve('tsx'),
      ROUNDS_SCRIPT,
      JSON.stringify({ ...options, ...PORTS }),
    ],
    30 * 60_000,
  );
  if (rounds.code !== 0)
    throw new Error(`the rounds failed (exit ${rounds.code}):\n${rounds.stderr}`);
  const stdout = rounds.stdout;
  const result = roundsOutputSchema.parse(JSON.parse(stdout.trim().split('\n').pop()!));
  console.log('start → healthy, ms');
  console.log(
    table([
      ['', 'runs', 'running (median)', 'healthy median', 'p90', 'min', 'max'],
      row('flotilla', result.flotilla),
      row('docker run + poll', result.baseline),
    ]),
  );
  const flotilla = result.flotilla.map((timing) => timing.healthyMs);
  const baseline = result.baseline.map((timing) => timing.healthyMs);
  const medianRatio = median(flotilla) / median(baseline);
  console.log(
    `\nratio flotilla / baseline: median ${ratio(median(flotilla), median(baseline))}, p90 ${ratio(percentile(flotilla, 90), percentile(baseline, 90))}`,
  );
  console.log(
    `Goal (median ≤ ${GOAL_RATIO}×): ${medianRatio <= GOAL_RATIO ? 'PASS' : 'FAIL'} (${fmt(medianRatio)}×)`,
  );
}

runBench(main);
