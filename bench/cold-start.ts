// bench/cold-start: `flotilla up --detach` of examples/quickstart (PostgreSQL, Redis, a
// two-replica API, a worker and a static site behind Caddy) from a fresh state dir until
// it exits 0 (every service healthy and routed), 3 runs with `down` and a new state dir
// between them; then warm starts, with the state dir kept (PostgreSQL's cluster already
// initialised, Caddy's CA already made). Goal: a cold `up` in ≤ 15 s.
//
//   node_modules/.bin/tsx bench/cold-start.ts
//   node_modules/.bin/tsx bench/cold-start.ts --remapped-ports
//
// The quickstart's ports are fixed (80, 443, 2019, 55432, 56379, 3000, 3001, 3100), so the
// bench first checks that nothing listens on them and prints SKIPPED otherwise. With
// --remapped-ports it runs the same quickstart (same apps, same commands) from a copy of
// its stack file whose ports are moved high (gateway 18083/18446/12022, PostgreSQL 18532,
// Redis 18579, API 18600-18601, site 18700), which can run beside the tests.
// A missed goal prints FAIL; the exit status is non-zero only when something crashes.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runLoad } from './lib/load.ts';
import {
  type BenchStack,
  caPath,
  cli,
  cliTimed,
  createStack,
  machineLine,
  portFree,
  ROOT,
  runBench,
  sleep,
  teardown,
  type TimedLine,
} from './lib/stack.ts';
import { fmt, max, median, ratio } from './lib/stats.ts';

const QUICKSTART = path.join(ROOT, 'examples', 'quickstart');
const QUICKSTART_FILE = path.join(QUICKSTART, 'flotilla.yml');
const FIXED_PORTS = [80, 443, 2019, 55432, 56379, 3000, 3001, 3100];
const REMAP: [string, string][] = [
  ['55432', '18532'],
  ['56379', '18579'],
  ['3000', '18600'],
  ['3100', '18700'],
];
const REMAPPED_GATEWAY = { http_port: 18083, https_port: 18446, admin_port: 12022 };
const REMAPPED_PORTS = [18083, 18446, 12022, 18532, 18579, 18600, 18601, 18700];
const COLD_RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const WARM_RUNS = Number(process.env['BENCH_WARM_RUNS'] ?? 2);
const GOAL_MS = 15_000;
const UP_TIMEOUT_S = 60;
const PROGRESS = /^\s+(\S+)\s+(pending|starting|healthy|failed)\b/;

/** The quickstart's stack file with high ports and absolute paths to its apps. */
async function remappedQuickstart(): Promise<string> {
  let text = await readFile(QUICKSTART_FILE, 'utf8');
  for (const [from, to] of REMAP) text = text.replaceAll(`: ${from} }`, `: ${to} }`);
  text = text
    .replace(
      /^name: quickstart$/m,
      `name: quickstart\ngateway: { http_port: ${REMAPPED_GATEWAY.http_port}, https_port: ${REMAPPED_GATEWAY.https_port}, admin_port: ${REMAPPED_GATEWAY.admin_port} }`,
    )
    .replaceAll('./bin/postgres-server', path.join(QUICKSTART, 'bin', 'postgres-server'))
    .replace(/cwd: \.\/(\w+)/g, (_, dir: string) => `cwd: ${path.join(QUICKSTART, dir)}`);
  for (const [from] of REMAP)
    if (text.includes(`: ${from} }`)) throw new Error(`port ${from} was not remapped`);
  return text;
}

interface Run {
  kind: 'cold' | 'warm';
  ok: boolean;
  upMs: number;
  /** From `up` exiting 0 until the first 200 through the gateway (API and site). */
  firstAnswerMs?: number;
  downMs?: number;
  /** When each instance was first reported healthy, ms since `up` started. */
  healthy: Map<string, number>;
  readyMs?: number;
  /** When the daemon logged "stack … is up" (bus, hub, agent, Caddy started), ms since `up` started. */
  controlPlaneMs?: number;
}

/** ms from `since` (epoch ms) until the daemon logged that the control plane is up. */
async function controlPlaneUp(stack: BenchStack, since: number): Promise<number | undefined> {
  const log = await readFile(path.join(stack.stateDir, 'daemon.log'), 'utf8').catch(() => '');
  for (const line of log.split('\n')) {
    const match = /^(\S+) stack \S+ is up;/.exec(line);
    if (!match) continue;
    const at = Date.parse(match[1]!);
    if (at >= since) return at - since;
  }
  return undefined;
}

function progress(lines: TimedLine[]): { healthy: Map<string, number>; readyMs?: number } {
  const healthy = new Map<string, number>();
  let readyMs: number | undefined;
  for (const { ms, line } of lines) {
    const match = PROGRESS.exec(line);
    if (match?.[2] === 'healthy' && !healthy.has(match[1]!)) healthy.set(match[1]!, ms);
    if (line.includes('every service healthy and routed')) readyMs ??= ms;
  }
  return readyMs === undefined ? { healthy } : { healthy, readyMs };
}

/** ms until both the API and the site answer 200 through the gateway (bounded). */
async function firstAnswers(stack: BenchStack, httpsPort: number): Promise<number | undefined> {
  const started = performance.now();
  const deadline = started + 10_000;
  const ca = await readFile(caPath(stack), 'utf8').catch(() => undefined);
  if (ca === undefined) return undefined;
  const pending = [
    { host: 'api.localhost', path: '/' },
    { host: 'quickstart.localhost', path: '/' },
  ];
  while (pending.length > 0 && performance.now() < deadline) {
    const target = pending[0]!;
    const probe = await runLoad(
      { label: target.host, port: httpsPort, path: target.path, host: target.host, ca },
      { concurrency: 1, durationMs: 1, maxRequests: 1, timeoutMs: 5000 },
    );
    if (probe.ok === 1) pending.shift();
    else await sleep(20);
  }
  return pending.length === 0 ? performance.now() - started : undefined;
}

async function upOnce(stack: BenchStack, kind: Run['kind'], httpsPort: number): Promise<Run> {
  const since = Date.now();
  const up = await cliTimed(stack, [
    'up',
    '--detach',
    '--timeout',
    String(UP_TIMEOUT_S),
    '-f',
    stack.file,
  ]);
  const run: Run = { kind, ok: up.code === 0, upMs: up.ms, ...progress(up.lines) };
  const controlPlane = await controlPlaneUp(stack, since);
  if (controlPlane !== undefined) run.controlPlaneMs = controlPlane;
  if (!run.ok) {
    console.log(`  up exited ${up.code} after ${fmt(up.ms / 1000)} s:\n${up.stdout}\n${up.stderr}`);
    const log = await readFile(path.join(stack.stateDir, 'daemon.log'), 'utf8').catch(() => '');
    console.log(`  daemon.log (end):\n${log.split('\n').slice(-20).join('\n')}`);
    return run;
  }
  const first = await firstAnswers(stack, httpsPort);
  if (first !== undefined) run.firstAnswerMs = first;
  return run;
}

async function down(stack: BenchStack, run: Run): Promise<void> {
  const result = await cli(stack, ['down', '-f', stack.file], 150_000);
  run.downMs = result.ms;
  if (result.code !== 0) console.log(`  down exited ${result.code}: ${result.stderr}`);
}

function describe(run: Run, index: number): string {
  const order = [...run.healthy.entries()].sort((a, b) => a[1] - b[1]);
  const healthy = order.map(([id, ms]) => `${id} ${fmt(ms / 1000)}`).join(', ');
  return [
    `  ${run.kind} #${index + 1}: up ${run.ok ? 'exit 0' : 'FAILED'} after ${fmt(run.upMs / 1000)} s`,
    run.firstAnswerMs === undefined
      ? 'no 200 through the gateway within 10 s of exit 0'
      : `first 200s through the gateway ${fmt(run.firstAnswerMs)} ms after exit`,
    `down ${run.downMs === undefined ? '—' : `${fmt(run.downMs / 1000)} s`}`,
  ]
    .join('; ')
    .concat(
      `\n      control plane up at ${run.controlPlaneMs === undefined ? '—' : fmt(run.controlPlaneMs / 1000)} s; healthy at (s): ${healthy || '—'}`,
    );
}

async function main(): Promise<void> {
  console.log(await machineLine('cold-start'));
  const remapped = process.argv.includes('--remapped-ports');
  const ports = remapped ? REMAPPED_PORTS : FIXED_PORTS;
  const busyPorts = async () => {
    const busy: number[] = [];
    for (const port of ports) if (!(await portFree(port))) busy.push(port);
    return busy;
  };
  const skipped = (busy: number[]) =>
    `SKIPPED: ports ${busy.join(', ')} are in use (the quickstart needs ${ports.join(', ')} free)${remapped ? '' : '; bench/cold-start.ts --remapped-ports runs it on high ports'}`;
  const busy = await busyPorts();
  if (busy.length > 0) {
    console.log(skipped(busy));
    return;
  }
  const source = remapped ? { yaml: await remappedQuickstart() } : { inPlace: QUICKSTART_FILE };
  const httpsPort = remapped ? REMAPPED_GATEWAY.https_port : 443;
  console.log(
    `examples/quickstart${remapped ? ' (copy with remapped ports)' : ''}: ${COLD_RUNS} cold runs (fresh state dir), then ${WARM_RUNS} warm (state kept)\n`,
  );

  // Baseline from the same run: what any `flotilla` command costs before it does anything.
  const validateMs: number[] = [];
  const probe = await createStack('cold-cli', source);
  for (let i = 0; i < 3; i++)
    validateMs.push((await cli(probe, ['validate', '-f', probe.file])).ms);
  await teardown(probe);

  const runs: Run[] = [];
  let last: BenchStack | undefined;
  for (let i = 0; i < COLD_RUNS; i++) {
    // Something else may have taken the ports since (tests run concurrently): check again.
    const taken = await busyPorts();
    if (taken.length > 0) {
      console.log(`  before cold #${i + 1}: ${skipped(taken)}`);
      break;
    }
    const stack = await createStack('cold', source);
    const run = await upOnce(stack, 'cold', httpsPort);
    await down(stack, run);
    runs.push(run);
    console.log(describe(run, i));
    if (i === COLD_RUNS - 1 && run.ok) last = stack;
    else await teardown(stack);
  }
  if (last) {
    for (let i = 0; i < WARM_RUNS; i++) {
      const taken = await busyPorts();
      if (taken.length > 0) {
        console.log(`  before warm #${i + 1}: ${skipped(taken)}`);
        break;
      }
      const run = await upOnce(last, 'warm', httpsPort);
      await down(last, run);
      runs.push(run);
      console.log(describe(run, i));
    }
    await teardown(last);
  }

  const cold = runs.filter((run) => run.kind === 'cold');
  const warm = runs.filter((run) => run.kind === 'warm');
  const coldMs = cold.filter((run) => run.ok).map((run) => run.upMs);
  const warmMs = warm.filter((run) => run.ok).map((run) => run.upMs);
  console.log('\nup --detach wall time (s), start to exit 0:');
  console.log(
    `  cold: median ${fmt(median(coldMs) / 1000)}, max ${fmt(max(coldMs) / 1000)} (${coldMs.map((ms) => fmt(ms / 1000)).join(', ')})`,
  );
  console.log(
    `  warm: median ${fmt(median(warmMs) / 1000)}, max ${fmt(max(warmMs) / 1000)} (${warmMs.map((ms) => fmt(ms / 1000)).join(', ')})`,
  );
  console.log(`  cold / warm: ${ratio(median(coldMs), median(warmMs))}`);
  console.log(
    `  baseline: \`flotilla validate\` (CLI start-up alone) ${fmt(median(validateMs) / 1000)} s; cold up / validate ${ratio(median(coldMs), median(validateMs))}`,
  );
  if (cold.length === 0) {
    console.log('\ngoal: cold up --detach ≤ 15 s: SKIPPED (no run)');
    return;
  }
  const pass = cold.every((run) => run.ok) && max(coldMs) <= GOAL_MS;
  console.log(
    `\ngoal: cold up --detach ≤ ${GOAL_MS / 1000} s: max ${fmt(max(coldMs) / 1000)} s: ${pass ? 'PASS' : 'FAIL'}`,
  );
}

runBench(main);
