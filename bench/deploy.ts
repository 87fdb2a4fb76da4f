// bench/deploy: zero-downtime deploys (issue 13) of a 2-replica Node service under keep-alive
// load, against the pre-deploy way of shipping changed code in the same run.
//
//   node_modules/.bin/tsx bench/deploy.ts
//   BENCH_WINDOW_S=16 BENCH_CONCURRENCY=8 BENCH_INTERNAL_CLIENTS=2 node_modules/.bin/tsx bench/deploy.ts
//
// One single-node stack (`flotilla up`, its own name and ports): `web` (bench/fixtures/
// hello-server.js, which answers its VERSION) with a health check and `deploy: {}`. Its
// VERSION comes from `version.conf` in the app directory (node --env-file), so a changed file
// is a changed release. Every round runs the same load for BENCH_WINDOW_S (default 12 s):
// BENCH_CONCURRENCY (4) keep-alive HTTPS clients through the gateway (trusting only the
// stack's CA) and BENCH_INTERNAL_CLIENTS (1) keep-alive clients on each replica's planned
// port over loopback (internal clients), with the operation starting 1 s in:
//   1. baseline: change version.conf and the spec (APP_REVISION), `flotilla apply`: the
//      instances are replaced in place, as before deploys existed (5 rounds);
//   2. `flotilla deploy web` of a changed version.conf (5 rounds);
//   3. `flotilla rollback web` to the previous release, then to the two before (3 rounds).
// Every answer's body is checked (bench/lib/response-bodies.ts): before the operation only the
// old version may answer, during it the old or the new one, after the CLI returned only the
// new one. "Switched" is the time from the CLI's start until both planned ports and every
// dial in the gateway's DNS answer serve the new version on a fresh connection (polled every
// 20 ms); the hub's own duration is the `duration_ms` that `deploy --json` prints.
//
// "From hub" is the same end measured from the daemon's first log line about the operation,
// without the CLI's start (tsx compiling the sources when there is no current dist/ build).
//
// Goals (issue 13): 0 failed of ≥ 10,000 gateway requests over the 5 deploys; rollout
// ≤ 5 s per node. A missed goal prints FAIL; the exit status is non-zero only on a crash.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fetchText, runLoad, type LoadResult, type RequestResult } from './lib/load.ts';
import { watchResponses, type ObservedResponse } from './lib/response-bodies.ts';
import {
  type BenchStack,
  caPath,
  cli,
  cliOk,
  createStack,
  downAndTeardown,
  eventually,
  FIXTURES,
  gatewayDials,
  machineLine,
  portFree,
  ROOT,
  runBench,
  sleep,
} from './lib/stack.ts';
import { fmt, max, median, ratio, table } from './lib/stats.ts';

const WINDOW_MS = Number(process.env['BENCH_WINDOW_S'] ?? 12) * 1000;
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 4);
const INTERNAL_CLIENTS = Number(process.env['BENCH_INTERNAL_CLIENTS'] ?? 1);
/** Per client, between two requests: steady traffic that leaves CPU to the control plane. */
const PAUSE_MS = Number(process.env['BENCH_PAUSE_MS'] ?? 2);
const ROUNDS = 5;
const ROLLBACKS = 3;
/** Load before the operation starts: every client is on a kept-alive connection by then. */
const LEAD_MS = 1000;
const POLL_MS = 20;
/** How long after the CLI returned the switch is still looked for (a failed deploy). */
const SWITCH_GRACE_MS = 3000;
const HOST = 'deploy.localhost';
// High ports of their own: the failover bench and the tests use 18080/18443/12019.
const HTTP_PORT = 18580;
const HTTPS_PORT = 18543;
const ADMIN_PORT = 12058;
const PLANNED_PORT = 18560;
const REPLICAS = 2;
const PLANNED_PORTS = Array.from({ length: REPLICAS }, (_, index) => PLANNED_PORT + index);
/** runLoad's requests use this path; probes use another, so only load answers are checked. */
const LOAD_PATH = '/load';
const PROBE_PATH = '/probe';
const INTERNAL_HOST = (port: number) => `${port}.internal`;
const GOAL_REQUESTS = 10_000;
const GOAL_ROLLOUT_MS = 5000;
/** The daemon.log line that ends a deploy or rollback on the hub's side. */
const HUB_END = /(deploy|rollback) of web: release \d+ is live/;
/** The daemon.log line that starts each operation on the hub's side. */
const HUB_START: Record<Kind, RegExp> = {
  apply: /web-\d+ changed: restarting it/,
  deploy: /deploy of web: release \d+ → \d+/,
  rollback: /rollback of web: release \d+ → \d+/,
};

/** The stack file; a new `revision` changes the spec, so `apply` replaces the instances. */
function stackYaml(revision: number): string {
  return `# bench/deploy: written by the bench, one revision per baseline round.
name: bench-deploy
gateway: { http_port: ${HTTP_PORT}, https_port: ${HTTPS_PORT}, admin_port: ${ADMIN_PORT} }
services:
  web:
    replicas: ${REPLICAS}
    run: { command: [node, --env-file=version.conf, hello-server.js], cwd: ./app }
    ports: { http: ${PLANNED_PORT} }
    env: { PORT: '\${port}', APP_REVISION: '${revision}' }
    health: { http: { path: /health }, interval: 1s }
    routes: [{ host: ${HOST} }]
    deploy: {}
`;
}

type Kind = 'apply' | 'deploy' | 'rollback';
type Side = 'gateway' | 'internal';

interface Operation {
  kind: Kind;
  label: string;
  from: string;
  to: string;
  args: string[];
  /** Writes what the operation ships (version.conf, the stack file). */
  prepare?: () => Promise<void>;
}

interface Round {
  op: Operation;
  code: number;
  cliMs: number;
  /** The hub's duration_ms (deploy, rollback). */
  hubMs?: number;
  /** Release number the hub reports live (deploy, rollback). */
  release?: number;
  /** ms from the CLI's start until every replica served `to`; undefined: never seen. */
  switchedMs?: number;
  /**
   * ms from the daemon's first line about the operation (the hub starting the deploy or
   * rollback; apply: the first instance restarting) until switched: the rollout without the
   * CLI's own start, bundling and upload.
   */
  fromHubMs?: number;
  /** ms from the CLI's start to the hub's first line, and from the hub's last to the CLI's exit. */
  beforeHubMs?: number;
  afterHubMs?: number;
  gateway: LoadResult;
  internal: LoadResult;
  /** Answers checked / answers from a version that should not have answered then, by kind. */
  checked: Record<Side, number>;
  wrong: Record<Side, Record<string, number>>;
  /** Failed requests and wrong answers, ms since the operation started. */
  incidents: string[];
  /** The load stopped before the CLI returned (the window was too short). */
  loadEndedEarly: boolean;
  daemonLog: string[];
  output: string;
}

function versionOf(body: string): string {
  try {
    return String((JSON.parse(body) as { version?: unknown }).version);
  } catch {
    return `unparsable body ${JSON.stringify(body.slice(0, 40))}`;
  }
}

/** Whether both planned ports and every dial the gateway serves answer `version`. */
async function servingEverywhere(stack: BenchStack, version: string): Promise<true | undefined> {
  const dials = await gatewayDials(stack, 'web');
  if (dials.length < REPLICAS) return undefined;
  const ports = [...PLANNED_PORTS, ...dials.map((dial) => Number(dial.split(':').pop()))];
  for (const port of ports) {
    const answer = await fetchText({ label: 'probe', port, path: PROBE_PATH, host: 'probe' });
    if (answer.status !== 200 || versionOf(answer.body) !== version) return undefined;
  }
  return true;
}

/** Lines of daemon.log stamped between two times (ISO timestamps at the start of each line). */
async function daemonLogBetween(stack: BenchStack, from: Date, to: Date): Promise<string[]> {
  const log = await readFile(path.join(stack.stateDir, 'daemon.log'), 'utf8').catch(() => '');
  return log.split('\n').filter((line) => {
    const stamp = Date.parse(line.slice(0, 24));
    return stamp >= from.getTime() && stamp <= to.getTime();
  });
}

function mergeLoads(label: string, results: LoadResult[]): LoadResult {
  const failures: Record<string, number> = {};
  for (const result of results)
    for (const [kind, count] of Object.entries(result.failures))
      failures[kind] = (failures[kind] ?? 0) + count;
  const latencies = Float64Array.from(results.flatMap((result) => [...result.latencies])).sort();
  const durationMs = max(results.map((result) => result.durationMs));
  return {
    label,
    durationMs,
    requests: results.reduce((sum, result) => sum + result.requests, 0),
    ok: latencies.length,
    failed: results.reduce((sum, result) => sum + result.failed, 0),
    failures,
    latencies,
    throughput: latencies.length / (durationMs / 1000),
    connections: results.reduce((sum, result) => sum + result.connections, 0),
  };
}

async function runRound(stack: BenchStack, ca: string, op: Operation): Promise<Round> {
  await op.prepare?.();
  const wallStart = new Date();
  // What may answer a request sent at a given time: the last entry whose `since` is before it.
  const expected: { since: number; allowed: string[] }[] = [
    { since: Number.NEGATIVE_INFINITY, allowed: [op.from] },
  ];
  const checked: Record<Side, number> = { gateway: 0, internal: 0 };
  const wrong: Record<Side, Record<string, number>> = { gateway: {}, internal: {} };
  const incidents: { at: number; what: string }[] = [];
  let opStart = Number.POSITIVE_INFINITY;
  const onAnswer = (answer: ObservedResponse) => {
    const side: Side = answer.host === HOST ? 'gateway' : 'internal';
    if (answer.status < 200 || answer.status >= 300) return; // runLoad counts it failed
    checked[side] += 1;
    const version = versionOf(answer.body);
    const allowed = [...expected].reverse().find((entry) => entry.since <= answer.sentAt)!.allowed;
    if (allowed.includes(version)) return;
    const kind = `${version} (expected ${allowed.join(' or ')})`;
    wrong[side][kind] = (wrong[side][kind] ?? 0) + 1;
    incidents.push({
      at: answer.sentAt - opStart,
      what: `${side} ${answer.host}: answered by ${kind}, ${fmt(answer.endedAt - answer.sentAt)} ms`,
    });
  };
  const onFailure = (target: string) => (result: RequestResult) => {
    if (result.error === undefined && result.status >= 200 && result.status < 300) return;
    incidents.push({
      at: result.at - opStart,
      what: `${target}: ${result.error ?? `HTTP ${result.status}`}${result.reused ? ' (reused connection)' : ''} after ${fmt(result.latencyMs)} ms`,
    });
  };
  const stopWatching = watchResponses(LOAD_PATH, onAnswer);
  const loadOptions = { durationMs: WINDOW_MS, maxRequests: 2_000_000, pauseMs: PAUSE_MS };
  const loadsStarted = performance.now();
  const gatewayLoad = runLoad(
    { label: 'gateway', port: HTTPS_PORT, path: LOAD_PATH, host: HOST, ca },
    { ...loadOptions, concurrency: CONCURRENCY, onResult: onFailure('gateway') },
  );
  const internalLoads = PLANNED_PORTS.map((port) =>
    runLoad(
      { label: `:${port}`, port, path: LOAD_PATH, host: INTERNAL_HOST(port) },
      { ...loadOptions, concurrency: INTERNAL_CLIENTS, onResult: onFailure(`internal :${port}`) },
    ),
  );
  await sleep(LEAD_MS);

  opStart = performance.now();
  const opStartWall = new Date();
  let switchedWall: number | undefined;
  expected.push({ since: opStart, allowed: [op.from, op.to] });
  let cliEnded: number | undefined;
  let cliEndedWall = 0;
  const command = cli(stack, op.args).then((result) => {
    cliEnded = performance.now();
    cliEndedWall = Date.now();
    if (result.code === 0) expected.push({ since: cliEnded, allowed: [op.to] });
    return result;
  });
  const switched = (async () => {
    for (;;) {
      if (await servingEverywhere(stack, op.to).catch(() => undefined)) {
        switchedWall = Date.now();
        return performance.now() - opStart;
      }
      if (cliEnded !== undefined && performance.now() > cliEnded + SWITCH_GRACE_MS)
        return undefined;
      await sleep(POLL_MS);
    }
  })();
  const [result, switchedMs, gateway, ...internal] = await Promise.all([
    command,
    switched,
    gatewayLoad,
    ...internalLoads,
  ]);
  stopWatching();

  const round: Round = {
    op,
    code: result.code,
    cliMs: result.ms,
    gateway,
    internal: mergeLoads('internal', internal),
    checked,
    wrong,
    incidents: incidents
      .sort((a, b) => a.at - b.at)
      .map((incident) => `${fmt(incident.at / 1000)} s  ${incident.what}`),
    loadEndedEarly: cliEnded! > loadsStarted + WINDOW_MS,
    daemonLog: [],
    output: `${result.stdout}${result.stderr}`.trim(),
  };
  if (switchedMs !== undefined) round.switchedMs = switchedMs;
  if (op.kind !== 'apply' && result.code === 0) {
    const done = JSON.parse(result.stdout) as { result: { to: number; duration_ms: number } };
    round.hubMs = done.result.duration_ms;
    round.release = done.result.to;
  }
  const log = await daemonLogBetween(stack, wallStart, new Date());
  const hubStart = log.find(
    (line) => HUB_START[op.kind].test(line) && Date.parse(line.slice(0, 24)) >= +opStartWall,
  );
  const stamp = (line: string) => Date.parse(line.slice(0, 24));
  if (hubStart) {
    round.beforeHubMs = stamp(hubStart) - +opStartWall;
    if (switchedWall !== undefined) round.fromHubMs = switchedWall - stamp(hubStart);
  }
  const hubEnd = log.find((line) => HUB_END.test(line) && stamp(line) >= +opStartWall);
  if (hubEnd) round.afterHubMs = cliEndedWall - stamp(hubEnd);
  const troubled =
    result.code !== 0 ||
    gateway.failed + round.internal.failed > 0 ||
    incidents.length > 0 ||
    switchedMs === undefined;
  if (troubled) round.daemonLog = log;
  return round;
}

function failureKinds(failures: Record<string, number>): string {
  return (
    Object.entries(failures)
      .map(([kind, count]) => `${count} × ${kind}`)
      .join(', ') || '—'
  );
}

function wrongCount(round: Round, side: Side): number {
  return Object.values(round.wrong[side]).reduce((sum, count) => sum + count, 0);
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? '—' : `${fmt(ms / 1000)} s`;
}

function printRound(round: Round): void {
  const { op } = round;
  const where = round.release === undefined ? '' : ` (release ${round.release})`;
  console.log(
    `${op.label} ${op.from} → ${op.to}${where}: exit ${round.code}, CLI ${seconds(round.cliMs)}, hub ${seconds(round.hubMs)}, switched ${seconds(round.switchedMs)} (${seconds(round.fromHubMs)} from the hub's start); gateway ${round.gateway.failed} failed of ${round.gateway.requests}, internal ${round.internal.failed} failed of ${round.internal.requests}; wrong version ${wrongCount(round, 'gateway')} + ${wrongCount(round, 'internal')}`,
  );
  if (round.beforeHubMs !== undefined)
    console.log(
      `  CLI start → hub's first line ${seconds(round.beforeHubMs)}${round.afterHubMs === undefined ? '' : `; hub's last line → CLI exit ${seconds(round.afterHubMs)}`}`,
    );
  if (round.code !== 0) console.log(`  output:\n${round.output.replace(/^/gm, '  | ')}`);
  if (round.loadEndedEarly)
    console.log('  the load ended before the CLI returned: raise BENCH_WINDOW_S');
  for (const incident of round.incidents.slice(0, 12)) console.log(`  ${incident}`);
  if (round.incidents.length > 12) console.log(`  … and ${round.incidents.length - 12} more`);
  if (round.daemonLog.length > 0) {
    console.log('  daemon.log during the round:');
    for (const line of round.daemonLog.slice(-40)) console.log(`  | ${line}`);
  }
}

interface Summary {
  rounds: Round[];
  gatewayRequests: number;
  gatewayFailed: number;
  internalRequests: number;
  internalFailed: number;
  wrong: number;
  gatewayFailures: Record<string, number>;
  internalFailures: Record<string, number>;
  switched: number[];
  fromHub: number[];
  neverSwitched: number;
  hub: number[];
  cli: number[];
}

function summarize(rounds: Round[]): Summary {
  const gateway = mergeLoads(
    'gateway',
    rounds.map((round) => round.gateway),
  );
  const internal = mergeLoads(
    'internal',
    rounds.map((round) => round.internal),
  );
  const switched = rounds.flatMap((round) =>
    round.switchedMs === undefined ? [] : [round.switchedMs],
  );
  return {
    rounds,
    gatewayRequests: gateway.requests,
    gatewayFailed: gateway.failed,
    internalRequests: internal.requests,
    internalFailed: internal.failed,
    wrong: rounds.reduce(
      (sum, round) => sum + wrongCount(round, 'gateway') + wrongCount(round, 'internal'),
      0,
    ),
    gatewayFailures: gateway.failures,
    internalFailures: internal.failures,
    switched,
    fromHub: rounds.flatMap((round) => (round.fromHubMs === undefined ? [] : [round.fromHubMs])),
    neverSwitched: rounds.length - switched.length,
    hub: rounds.flatMap((round) => (round.hubMs === undefined ? [] : [round.hubMs])),
    cli: rounds.map((round) => round.cliMs),
  };
}

function medianMax(values: number[]): string {
  return values.length === 0 ? '—' : `${fmt(median(values) / 1000)} / ${fmt(max(values) / 1000)} s`;
}

async function main(): Promise<void> {
  console.log(await machineLine('deploy'));
  console.log(
    `${REPLICAS} replicas; per round ${WINDOW_MS / 1000} s of load (${CONCURRENCY} keep-alive HTTPS clients through the gateway, ${INTERNAL_CLIENTS} keep-alive HTTP client per planned port, ${PAUSE_MS} ms pause), the operation ${LEAD_MS / 1000} s in: ${ROUNDS} × apply (baseline), ${ROUNDS} × deploy, ${ROLLBACKS} × rollback\n`,
  );
  for (const port of [HTTP_PORT, HTTPS_PORT, ADMIN_PORT, ...PLANNED_PORTS])
    if (!(await portFree(port)))
      throw new Error(`port ${port} is in use: another stack or bench is running`);

  const stack = await createStack('deploy', { yaml: stackYaml(0) });
  const app = path.join(stack.dir, 'app');
  await mkdir(app);
  await copyFile(path.join(FIXTURES, 'hello-server.js'), path.join(app, 'hello-server.js'));
  const writeVersion = (version: string) =>
    writeFile(path.join(app, 'version.conf'), `VERSION=${version}\n`);
  await writeVersion('v0');
  try {
    const up = await cliOk(stack, ['up', '--detach', '--timeout', '60', '-f', stack.file]);
    console.log(`up --detach: ${fmt(up.ms / 1000)} s`);
    // bin/flotilla.js says so when it compiles the sources with tsx: every CLI time includes it.
    const fromSources =
      process.env['FLOTILLA_FROM_SOURCE'] === '1' ||
      !existsSync(path.join(ROOT, 'dist', 'cli', 'flotilla.mjs')) ||
      /from source/.test(up.stderr);
    console.log(`the CLI runs ${fromSources ? 'from the sources (tsx)' : 'the compiled build'}`);
    const ca = await readFile(caPath(stack), 'utf8');
    await eventually(() => servingEverywhere(stack, 'v0'), 15_000, 'both replicas on v0', 100);
    // Warm-up: TLS sessions, Caddy's upstream connections, the JIT.
    const warm = await runLoad(
      { label: 'gateway', port: HTTPS_PORT, path: PROBE_PATH, host: HOST, ca },
      { concurrency: CONCURRENCY, durationMs: 1000, pauseMs: PAUSE_MS },
    );
    if (warm.failed > 0) console.log(`warm-up: ${warm.failed} of ${warm.requests} failed`);

    const rounds: Round[] = [];
    let live = 'v0';
    const run = async (op: Operation) => {
      const round = await runRound(stack, ca, op);
      printRound(round);
      rounds.push(round);
      if (round.code === 0) live = op.to;
      return round;
    };
    for (let k = 1; k <= ROUNDS; k++) {
      const to = `a${k}`;
      await run({
        kind: 'apply',
        label: `apply #${k}`,
        from: live,
        to,
        args: ['apply', '-f', stack.file, '--timeout', '60'],
        prepare: async () => {
          await writeVersion(to);
          await writeFile(stack.file, stackYaml(k));
        },
      });
    }
    const releases = new Map<string, number>();
    for (let k = 1; k <= ROUNDS; k++) {
      const to = `d${k}`;
      const round = await run({
        kind: 'deploy',
        label: `deploy #${k}`,
        from: live,
        to,
        args: ['deploy', 'web', '-f', stack.file, '--json', '-m', `bench/deploy round ${k}`],
        prepare: () => writeVersion(to),
      });
      if (round.release !== undefined) releases.set(to, round.release);
    }
    // Back to the previous release (what `rollback web` picks), then to the ones before it.
    for (let k = 1; k <= ROLLBACKS; k++) {
      const to = `d${ROUNDS - k}`;
      const number = releases.get(to);
      if (k > 1 && number === undefined) {
        console.log(`rollback #${k}: skipped, ${to} was never deployed`);
        continue;
      }
      await run({
        kind: 'rollback',
        label: `rollback #${k}`,
        from: live,
        to,
        args: ['rollback', 'web', ...(k === 1 ? [] : [String(number)]), '-f', stack.file, '--json'],
      });
    }
    // The releases the hub keeps (keep: 5), for the record.
    const listed = await cli(stack, ['releases', 'web', '-f', stack.file]);
    console.log(`\nflotilla releases web (exit ${listed.code}):\n${listed.stdout.trimEnd()}`);

    const byKind = (kind: Kind) => summarize(rounds.filter((round) => round.op.kind === kind));
    const apply = byKind('apply');
    const deploy = byKind('deploy');
    const rollback = byKind('rollback');
    const rows = [
      [
        'round',
        'exit',
        'CLI',
        'hub',
        'switched',
        'from hub',
        'gateway failed/sent',
        'internal failed/sent',
        'wrong version',
        'bodies checked',
      ],
      ...rounds.map((round) => [
        `${round.op.label} ${round.op.from}→${round.op.to}`,
        String(round.code),
        seconds(round.cliMs),
        seconds(round.hubMs),
        seconds(round.switchedMs),
        seconds(round.fromHubMs),
        `${round.gateway.failed}/${round.gateway.requests}`,
        `${round.internal.failed}/${round.internal.requests}`,
        String(wrongCount(round, 'gateway') + wrongCount(round, 'internal')),
        String(round.checked.gateway + round.checked.internal),
      ]),
    ];
    console.log(`\n${table(rows)}`);

    console.log('\nby operation (switched, from hub, hub, CLI: median / max):');
    for (const [label, summary] of [
      ['apply (baseline)', apply],
      ['deploy', deploy],
      ['rollback', rollback],
    ] as const) {
      console.log(
        `  ${label}: switched ${medianMax(summary.switched)}${summary.neverSwitched > 0 ? ` (${summary.neverSwitched} never)` : ''}, from hub ${medianMax(summary.fromHub)}, hub ${medianMax(summary.hub)}, CLI ${medianMax(summary.cli)}`,
      );
      console.log(
        `    gateway ${summary.gatewayFailed} failed of ${summary.gatewayRequests} (${failureKinds(summary.gatewayFailures)}); internal ${summary.internalFailed} failed of ${summary.internalRequests} (${failureKinds(summary.internalFailures)}); wrong version ${summary.wrong}`,
      );
    }
    const failures = (summary: Summary) => summary.gatewayFailed + summary.internalFailed;
    console.log(
      `\ndeploy / apply: failed requests ${failures(deploy)} / ${failures(apply)} (gateway ${deploy.gatewayFailed} / ${apply.gatewayFailed}, internal ${deploy.internalFailed} / ${apply.internalFailed}); time to every replica on the new code, median ${ratio(median(deploy.switched), median(apply.switched))}, max ${ratio(max(deploy.switched), max(apply.switched))}`,
    );
    console.log(
      `rollback / apply: failed requests ${failures(rollback)} / ${failures(apply)}; switched median ${ratio(median(rollback.switched), median(apply.switched))}`,
    );

    const requestsPass =
      deploy.rounds.length === ROUNDS &&
      deploy.rounds.every((round) => round.code === 0) &&
      deploy.gatewayFailed === 0 &&
      deploy.wrong === 0 &&
      deploy.gatewayRequests >= GOAL_REQUESTS;
    const rolloutPass =
      deploy.neverSwitched === 0 &&
      deploy.switched.length === ROUNDS &&
      max(deploy.switched) <= GOAL_ROLLOUT_MS;
    console.log(
      `\ngoal: 0 failed (and no wrong version) of ≥ ${GOAL_REQUESTS} gateway requests over ${ROUNDS} deploys: ${deploy.gatewayFailed} failed, ${deploy.wrong} wrong of ${deploy.gatewayRequests}: ${requestsPass ? 'PASS' : 'FAIL'}`,
    );
    console.log(
      `goal: rollout ≤ ${GOAL_ROLLOUT_MS / 1000} s per node (deploy start → every replica switched): max ${seconds(max(deploy.switched))}: ${rolloutPass ? 'PASS' : 'FAIL'}; from the hub's start: max ${seconds(max(deploy.fromHub))}${max(deploy.fromHub) <= GOAL_ROLLOUT_MS ? '' : ' (over too)'}`,
    );
    console.log(
      `internal clients (no goal set): ${deploy.internalFailed} failed of ${deploy.internalRequests} over the deploys, ${rollback.internalFailed} of ${rollback.internalRequests} over the rollbacks`,
    );
  } finally {
    await downAndTeardown(stack);
  }
}

runBench(main);
