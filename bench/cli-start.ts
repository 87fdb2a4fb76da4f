// bench/cli-start: what the compiled build (scripts/build.js, dist/) saves against running the
// sources through tsx, measured in the same run: the wall time of `validate` and `status`
// (median of RUNS, with `node -e 0` as the floor no CLI can beat), and the idle RSS of the
// daemon `up --detach` leaves running (a one-service stack, 10 s after it is ready).
// Goals (issue 16): `validate` and `status` start in ≤ 0.2 s; the daemon's idle RSS drops.
//
//   node_modules/.bin/tsx bench/cli-start.ts
//
// It builds dist/ first, so the compiled side is always the current sources.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { processRssBytes } from './lib/proc-memory.ts';
import {
  cli,
  cliOk,
  createStack,
  downAndTeardown,
  machineLine,
  ROOT,
  runBench,
  sleep,
  type BenchStack,
} from './lib/stack.ts';
import { fmt, median, ratio, table } from './lib/stats.ts';

const run = promisify(execFile);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 7);
const IDLE_MS = 10_000;
const GOAL_MS = 200;
const QUICKSTART = path.join(ROOT, 'examples', 'quickstart', 'flotilla.yml');
const ECHO = path.join(ROOT, 'test', 'daemon', 'fixtures', 'echo-server.js');
const MODES = { source: '1', compiled: '' } as const;
type Mode = keyof typeof MODES;

async function medianMs(measure: () => Promise<number>): Promise<number> {
  const times: number[] = [];
  for (let index = 0; index < RUNS; index++) times.push(await measure());
  return median(times);
}

/** `flotilla args…` in `mode`, timed; throws when it exits with another code than `code`. */
async function timed(stack: BenchStack, mode: Mode, args: string[], code = 0): Promise<number> {
  process.env['FLOTILLA_FROM_SOURCE'] = MODES[mode];
  const result = await cli(stack, args);
  if (result.code !== code)
    throw new Error(`flotilla ${args.join(' ')} (${mode}) exited ${result.code}: ${result.stderr}`);
  if (result.stderr.includes('running from source') && mode === 'compiled')
    throw new Error('the compiled build is stale: it ran from source');
  return result.ms;
}

async function nodeFloor(): Promise<number> {
  return medianMs(async () => {
    const started = performance.now();
    await run(process.execPath, ['-e', '0']);
    return performance.now() - started;
  });
}

/** Brings a one-service stack up in `mode`; its daemon's RSS after IDLE_MS, and status timings. */
async function daemonRun(mode: Mode): Promise<{ statusMs: number; rssBytes: number }> {
  process.env['FLOTILLA_FROM_SOURCE'] = MODES[mode];
  const stack = await createStack(`cli-${mode}`, {
    yaml: `name: clistart${mode}
gateway: { http_port: 18093, https_port: 18453 }
services:
  web:
    run: { command: [node, ${ECHO}] }
    ports: { http: 18610 }
    env: { PORT: '\${port}' }
    health: { http: { path: /health } }
`,
  });
  try {
    await cliOk(stack, ['up', '--detach', '-f', stack.file]);
    await sleep(IDLE_MS);
    const { pid } = JSON.parse(
      await readFile(path.join(stack.stateDir, 'hub', 'api.json'), 'utf8'),
    ) as { pid: number };
    const rssBytes = processRssBytes(pid) ?? Number.NaN;
    const statusMs = await medianMs(() => timed(stack, mode, ['status', '-f', stack.file]));
    return { statusMs, rssBytes };
  } finally {
    await downAndTeardown(stack);
  }
}

runBench(async () => {
  console.log(await machineLine('cli-start'));
  await run(process.execPath, [path.join(ROOT, 'scripts', 'build.js')]);
  const floor = await nodeFloor();
  const scratch = await createStack('cli-validate', { yaml: 'name: unused\n' });
  const results = {} as Record<Mode, { validate: number; status: number; rss: number }>;
  for (const mode of Object.keys(MODES) as Mode[]) {
    const validate = await medianMs(() => timed(scratch, mode, ['validate', '-f', QUICKSTART]));
    const daemon = await daemonRun(mode);
    results[mode] = { validate, status: daemon.statusMs, rss: daemon.rssBytes };
  }
  const { source, compiled } = results;
  const mib = (bytes: number) => `${fmt(bytes / 1024 / 1024)} MiB`;
  const ms = (value: number) => `${fmt(value)} ms`;
  console.log(
    table([
      ['', 'source (tsx)', 'compiled', 'compiled / source', 'compiled / floor', 'goal'],
      ['node -e 0 (floor)', ms(floor), ms(floor), '', '', ''],
      [
        'validate (quickstart)',
        ms(source.validate),
        ms(compiled.validate),
        ratio(compiled.validate, source.validate),
        ratio(compiled.validate, floor),
        `≤ ${GOAL_MS} ms ${compiled.validate <= GOAL_MS ? 'ok' : 'FAIL'}`,
      ],
      [
        'status (running stack)',
        ms(source.status),
        ms(compiled.status),
        ratio(compiled.status, source.status),
        ratio(compiled.status, floor),
        `≤ ${GOAL_MS} ms ${compiled.status <= GOAL_MS ? 'ok' : 'FAIL'}`,
      ],
      [
        `daemon RSS, idle ${IDLE_MS / 1000} s`,
        mib(source.rss),
        mib(compiled.rss),
        ratio(compiled.rss, source.rss),
        '',
        compiled.rss < source.rss ? 'drops: ok' : 'FAIL',
      ],
    ]),
  );
  console.log(`median of ${RUNS} runs each; ${RUNS} × node -e 0 gives the floor`);
});
