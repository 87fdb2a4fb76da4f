// bench/plan: validate + plan of generated stacks of 20, 200 and 2,000 services over
// proportionally many nodes. Goal: 2,000 services in under one second, growing close to
// linearly. Prints the median times and the growth ratios between sizes.
//
//   node_modules/.bin/tsx bench/plan.ts              # 20, 200, 2000
//   node_modules/.bin/tsx bench/plan.ts 20 200 400   # other sizes
//   BENCH_TIMEOUT_S=600 node_modules/.bin/tsx bench/plan.ts
//
// Each size runs in its own child process, so a size that blows up super-linearly is cut
// off after BENCH_TIMEOUT_S (default 120) and reported with what it finished, instead of
// hanging the bench (a fresh process per size also keeps one size's garbage out of the
// next one's times). The exit status is non-zero only when something crashes; a missed
// goal is a printed FAIL.
import { fork } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { planStack } from '../src/plan/plan.ts';
import { parseStackText } from '../src/spec/load.ts';
import type { Stack } from '../src/spec/schema.ts';
import { generateStack } from './generate-stack.ts';

const DEFAULT_SIZES = [20, 200, 2000];
const GOAL_SIZE = 2000;
const GOAL_MS = 1000;
const SEED = 20_240_601;
const PLAN_OPTIONS = { stackDir: '/srv/bench', stateDir: '/var/lib/flotilla' };
const CHILD_FLAG = '--bench-child';

/** The child reports every run as it ends, so a size cut off midway still shows something. */
type ChildMessage =
  | { kind: 'input'; nodes: number; instances: number; textKiB: number }
  | { kind: 'run'; phase: 'parse' | 'full'; warmup: boolean; parse: number; plan?: number }
  | { kind: 'phase'; phase: 'parse' | 'full' }
  | { kind: 'grants'; grants: number }
  | { kind: 'crash'; error: string }
  | { kind: 'done' };
type RunMessage = Extract<ChildMessage, { kind: 'run' }>;

/** A median, or (`atLeast`) a lower bound when the size was cut off before one run ended. */
interface Figure {
  ms: number;
  atLeast?: boolean;
}

interface SizeRow {
  services: number;
  nodes?: number;
  instances?: number;
  textKiB?: number;
  grants?: number;
  runs: number;
  /** Only warm-up runs ended before the cut-off: their medians stand in. */
  warmupOnly?: boolean;
  parse?: Figure;
  plan?: Figure;
  total?: Figure;
  cutOff: boolean;
  crash?: string;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Runs `once` for warm-up (up to 3 times, or until a second went by: a slow size gets one
 * warm-up, not minutes of them), then at least 5 measured times (3 when a run takes over
 * 10 s) and more while the measured runs took under 2 s in all.
 */
function sample(once: (warmup: boolean) => number): void {
  const warmupStart = performance.now();
  let last = once(true);
  for (let i = 1; i < 3 && performance.now() - warmupStart < 1000; i++) last = once(true);
  const minimum = last > 10_000 ? 3 : 5;
  const start = performance.now();
  for (let runs = 0; runs < minimum || (performance.now() - start < 2000 && runs < 50); runs++) {
    once(false);
  }
}

/** The child: parse alone first, then parse + plan; every run is reported as it ends. */
function measure(services: number, send: (message: ChildMessage) => void) {
  const generated = generateStack({ services, seed: SEED });
  send({
    kind: 'input',
    nodes: generated.nodes,
    instances: generated.instances,
    textKiB: Math.round(Buffer.byteLength(generated.text) / 1024),
  });
  const load = (): Stack => {
    const loaded = parseStackText(generated.text, 'flotilla.yml');
    if (loaded.ok) return loaded.stack;
    const first = loaded.diagnostics[0];
    throw new Error(
      `the generated stack was rejected (${loaded.diagnostics.length} problems), first: ${first?.line}:${first?.col} ${first?.message}`,
    );
  };

  send({ kind: 'phase', phase: 'parse' });
  sample((warmup) => {
    const started = performance.now();
    load();
    const parse = performance.now() - started;
    send({ kind: 'run', phase: 'parse', warmup, parse });
    return parse;
  });

  let grantsSent = false;
  send({ kind: 'phase', phase: 'full' });
  sample((warmup) => {
    const started = performance.now();
    const stack = load();
    const parsed = performance.now();
    const plan = planStack(stack, PLAN_OPTIONS);
    const planned = performance.now();
    send({ kind: 'run', phase: 'full', warmup, parse: parsed - started, plan: planned - parsed });
    if (!grantsSent) send({ kind: 'grants', grants: plan.reachability.grants.length });
    grantsSent = true;
    return planned - started;
  });
}

/**
 * Medians of the measured runs of the furthest phase reached, warm-ups if nothing else.
 * `cutOff`: the phase the child was in and how long ago its last run (or the phase) began.
 */
function summarize(
  row: SizeRow,
  runs: RunMessage[],
  cutOff: { phase: RunMessage['phase']; runningMs: number } | undefined,
) {
  const pick = (phase: RunMessage['phase']) => {
    const measured = runs.filter((run) => run.phase === phase && !run.warmup);
    return measured.length > 0 ? measured : runs.filter((run) => run.phase === phase);
  };
  const full = pick('full');
  const parses = full.length > 0 ? full : pick('parse');
  row.runs = parses.length;
  row.warmupOnly = parses.length > 0 && parses.every((run) => run.warmup);
  if (parses.length > 0) row.parse = { ms: median(parses.map((run) => run.parse)) };
  if (full.length > 0) {
    row.plan = { ms: median(full.map((run) => run.plan ?? 0)) };
    row.total = { ms: median(full.map((run) => run.parse + (run.plan ?? 0))) };
  } else if (cutOff?.phase === 'full') {
    // Cut off inside the first parse + plan: it took at least the time since it began.
    row.plan = { ms: Math.max(0, cutOff.runningMs - (row.parse?.ms ?? 0)), atLeast: true };
    row.total = { ms: cutOff.runningMs, atLeast: true };
  } else if (cutOff?.phase === 'parse' && parses.length === 0) {
    row.parse = { ms: cutOff.runningMs, atLeast: true };
  }
}

function runSize(services: number, timeoutMs: number): Promise<SizeRow> {
  return new Promise((resolve) => {
    const row: SizeRow = { services, runs: 0, cutOff: false };
    const runs: RunMessage[] = [];
    // Where the child is: a cut-off run took at least the time since its start.
    let phase: RunMessage['phase'] = 'parse';
    let runStartedAt = performance.now();
    // tsx's loader does not follow into worker threads; a child process started with it does.
    const child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, String(services)], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let done = false;
    const finish = (cutOff?: { phase: RunMessage['phase']; runningMs: number }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      summarize(row, runs, cutOff);
      resolve(row);
    };
    const timer = setTimeout(() => {
      row.cutOff = true;
      child.kill('SIGKILL');
      finish({ phase, runningMs: performance.now() - runStartedAt });
    }, timeoutMs);
    child.on('message', (message: ChildMessage) => {
      switch (message.kind) {
        case 'input': {
          const { nodes, instances, textKiB } = message;
          Object.assign(row, { nodes, instances, textKiB });
          break;
        }
        case 'phase':
          phase = message.phase;
          runStartedAt = performance.now();
          break;
        case 'run':
          runs.push(message);
          runStartedAt = performance.now();
          break;
        case 'grants':
          row.grants = message.grants;
          break;
        case 'crash':
          row.crash = message.error;
          break;
        case 'done':
          break;
      }
    });
    child.on('error', (error) => {
      row.crash ??= error.stack ?? String(error);
      finish();
    });
    child.on('exit', (code, signal) => {
      if (!row.cutOff && !runs.some((run) => run.phase === 'full')) {
        row.crash ??= `the bench child exited (${signal ?? code}) before reporting`;
      }
      finish();
    });
  });
}

const ms = (value: number) =>
  value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
const show = (figure: Figure | undefined) =>
  figure === undefined ? '—' : `${figure.atLeast ? '>' : ''}${ms(figure.ms)}`;

/** `12.3× (n^1.09)`: the ratio and the exponent of n it implies for `sizeRatio`. */
function growth(before: Figure | undefined, after: Figure | undefined, sizeRatio: number): string {
  if (before === undefined || after === undefined || before.atLeast) return 'n/a';
  const ratio = after.ms / before.ms;
  const exponent = (Math.log(ratio) / Math.log(sizeRatio)).toFixed(2);
  return after.atLeast
    ? `> ${ratio.toFixed(0)}× (> n^${exponent})`
    : `${ratio.toFixed(1)}× (n^${exponent})`;
}

async function main() {
  const sizes = process.argv.slice(2).map(Number);
  for (const size of sizes) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`not a service count: ${size}`);
  }
  const timeoutS = Number(process.env['BENCH_TIMEOUT_S'] ?? 120);
  const cpu = cpus();
  console.log(
    `bench/plan: node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, seed ${SEED}, cut off after ${timeoutS} s per size`,
  );
  console.log(
    'medians after warm-up; parse = parseStackText (YAML + schema + validate), plan = planStack\n',
  );

  // prettier-ignore
  const header = ['services', 'nodes', 'instances', 'grants', 'KiB', 'runs', 'parse ms', 'plan ms', 'total ms'];
  console.log(header.map((cell) => cell.padStart(9)).join(' '));
  const rows: SizeRow[] = [];
  for (const services of sizes.length > 0 ? sizes : DEFAULT_SIZES) {
    const row = await runSize(services, timeoutS * 1000);
    rows.push(row);
    const cells = [
      row.services,
      row.nodes ?? '',
      row.instances ?? '',
      row.grants ?? '—',
      row.textKiB ?? '',
      row.runs,
      show(row.parse),
      show(row.plan),
      show(row.total),
    ];
    const notes = [row.cutOff && 'cut off', row.warmupOnly && 'warm-up runs only'].filter(Boolean);
    console.log(
      cells.map((cell) => String(cell).padStart(9)).join(' ') +
        (notes.length > 0 ? `  (${notes.join(', ')})` : ''),
    );
    if (row.crash) console.log(`CRASH at ${services} services:\n${row.crash}`);
  }

  console.log('\ngrowth (10× the services should take about 10× the time: n^1.00):');
  for (let i = 1; i < rows.length; i++) {
    const before = rows[i - 1]!;
    const after = rows[i]!;
    const ratio = after.services / before.services;
    const label = `time(${after.services})/time(${before.services})`.padEnd(24);
    console.log(
      `  ${label} parse ${growth(before.parse, after.parse, ratio)}, plan ${growth(before.plan, after.plan, ratio)}, total ${growth(before.total, after.total, ratio)}`,
    );
  }

  const goal = rows.find((row) => row.services === GOAL_SIZE);
  if (goal && !goal.crash && goal.total) {
    const pass = !goal.total.atLeast && goal.total.ms < GOAL_MS;
    console.log(
      `\ngoal: ${GOAL_SIZE} services validated + planned in < ${GOAL_MS} ms: ${show(goal.total)} ms: ${pass ? 'PASS' : 'FAIL'}`,
    );
  }
  process.exitCode = rows.some((row) => row.crash !== undefined) ? 1 : 0;
}

if (process.argv[2] === CHILD_FLAG) {
  const send = (message: ChildMessage) => process.send!(message);
  try {
    measure(Number(process.argv[3]), send);
  } catch (error) {
    send({
      kind: 'crash',
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  }
  // Messages go out in order; disconnecting once the last one is written lets the child exit.
  process.send!({ kind: 'done' } satisfies ChildMessage, () => process.disconnect());
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
