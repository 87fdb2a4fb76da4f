// bench/cluster-sim: the control plane at 50 and 100 nodes, past what the lab can run on one
// machine. The real hub and bus (nats-server with the cluster's users and permissions, the
// real Hub with every node a member) run in a process of their own; simulated agents
// (bench/lib/sim-agent.ts: the real protocol, signed messages checked, no processes, no mesh)
// run in one process per 50 nodes, each on its own NATS connection. Per N it reports what
// bench/cluster-scale reports in the lab, where it makes sense without real agents:
//
//   node_modules/.bin/tsx bench/cluster-sim.ts [--nodes 12,50,100] [--idle-s 60] [--services 10]
//                                              [--healthy-ms 300] [--agents-per-process 50]
//
// 1. apply → ready: the stack file of N nodes × `--services` services (three depends_on layers,
//    the first node the gateway) loaded off the hub's thread and applied, as `POST /api/v1/apply`
//    does, until the hub's status report says ready; what went over the bus meanwhile.
// 2. idle: after a short settle, `--idle-s` seconds of nothing: bus messages and bytes each
//    way (the hub's own counts, hub.busTraffic()), CPU and RSS of the hub process and of
//    nats-server, and every node the hub called lost (none should be: nothing happened).
// 3. loss, twice: a node's link goes dead at a random moment, then another's right after its
//    heartbeat (the worst moment): until the hub's status report shows it down, and until the
//    gateway receives a route config without its upstreams.
// 4. recovery, after each: the link back: until the node is up, its upstreams are back in the
//    gateway's config, and the status report is ready again.
//
// A run takes about `--idle-s` + 30 s per N (the default series with --idle-s 600: ~32 min).
// BENCH_HUB_CPU_PROF=<dir> writes a CPU profile of each hub process there (node --cpu-prof).
//
// Then a table across N, the growth per step, and PASS/FAIL against the goals of issue 11 that
// a simulation can check. The agents process's CPU is shown but is not an agent's cost: real
// agents run processes, health checks and Caddy (see bench/cluster-scale for those).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Traffic } from '../src/bus/hub-link.ts';
import { readProcStat } from '../src/system/proc.ts';
import { processCpuMs } from './lib/cpu.ts';
import { processRssBytes } from './lib/proc-memory.ts';
import { RpcChild } from './lib/rpc-child.ts';
import type { SimAgentCounts } from './lib/sim-agent.ts';
import type { SimAgentsOptions } from './lib/sim-agents.ts';
import type { ApplyTimes, HubLogLine, SimHubStarted } from './lib/sim-hub.ts';
import { simNodes, simStackYaml } from './lib/sim-stack.ts';
import { machineLine, onCleanup, runBench, sleep } from './lib/stack.ts';
import { fmt, ratio, table } from './lib/stats.ts';

const HUB_ENTRY = 'bench/lib/sim-hub.ts';
const AGENTS_ENTRY = 'bench/lib/sim-agents.ts';
/** After ready, before the idle window: the last reports and events of the apply drain. */
const SETTLE_MS = 3_000;
/** How often the idle window samples CPU and memory. */
const SAMPLE_MS = 5_000;
/** How long the cut node stays cut: well past detection. */
const CUT_MS = 5_000;
const WAIT_MS = 15_000;
const REPORTING_TIMEOUT_MS = 60_000;
const MIB = 1024 * 1024;

/** Issue 11's goals that a simulation can check. */
const GOALS = {
  idleMessagesPerNodeSecond: 1,
  lossMs: 3_000,
  /** Per-node idle traffic at the largest N over the smallest: "constant". */
  trafficGrowth: 1.25,
  /** The same for CPU per node: measured in 10 ms ticks, noisier. */
  cpuGrowth: 1.5,
  /** hub + nats-server + the hub node's agent at N = 12, % of one core (no agent here). */
  hubNatsCpuAt12: 5,
};

interface Options {
  nodes: number[];
  idleS: number;
  services: number;
  healthyMs: number;
  agentsPerProcess: number;
}

const USAGE =
  'usage: tsx bench/cluster-sim.ts [--nodes 12,50,100] [--idle-s 60] [--services 10] [--healthy-ms 300] [--agents-per-process 50]';

function parseOptions(argv: string[]): Options {
  const options: Options = {
    nodes: [12, 50, 100],
    idleS: 60,
    services: 10,
    healthyMs: 300,
    agentsPerProcess: 50,
  };
  const positive = (flag: string, text: string | undefined): number => {
    const value = Number(text);
    if (text === undefined || !Number.isInteger(value) || value < 1)
      throw new UsageError(`${flag} takes a whole number ≥ 1, not ${text ?? 'nothing'}`);
    return value;
  };
  for (let index = 0; index < argv.length; index += 2) {
    const [flag, value] = [argv[index]!, argv[index + 1]];
    if (flag === '--nodes') {
      options.nodes = (value ?? '').split(',').map((part) => positive(flag, part));
      if (options.nodes.some((n) => n < 2 || n > 500))
        throw new UsageError('--nodes: each count between 2 and 500');
    } else if (flag === '--idle-s') options.idleS = positive(flag, value);
    else if (flag === '--services') options.services = positive(flag, value);
    else if (flag === '--healthy-ms') options.healthyMs = positive(flag, value);
    else if (flag === '--agents-per-process') options.agentsPerProcess = positive(flag, value);
    else throw new UsageError(`unknown option ${flag}`);
  }
  return options;
}

class UsageError extends Error {}

type HubTraffic = { received: Traffic; sent: Traffic };

interface Flow {
  messages: number;
  bytes: number;
}

function total(traffic: Traffic): Flow {
  let messages = 0;
  let bytes = 0;
  for (const entry of Object.values(traffic)) {
    messages += entry.messages;
    bytes += entry.bytes;
  }
  return { messages, bytes };
}

function minus(after: Traffic, before: Traffic): Traffic {
  const result: Traffic = {};
  for (const [kind, entry] of Object.entries(after)) {
    const earlier = before[kind] ?? { messages: 0, bytes: 0 };
    const messages = entry.messages - earlier.messages;
    if (messages > 0) result[kind] = { messages, bytes: entry.bytes - earlier.bytes };
  }
  return result;
}

function byKind(traffic: Traffic, seconds: number): string {
  const kinds = Object.entries(traffic);
  if (kinds.length === 0) return 'nothing';
  return kinds
    .map(
      ([kind, entry]) =>
        `${kind} ${fmt(entry.messages / seconds)}/s (${fmt(entry.bytes / entry.messages)} B)`,
    )
    .join(', ');
}

/** CPU ms so far of each measured process. */
function cpuNow(pids: Record<string, number[]>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(pids).map(([name, list]) => [
      name,
      list.reduce((sum, pid) => sum + (processCpuMs(pid) ?? Number.NaN), 0),
    ]),
  );
}

function rssNow(pids: Record<string, number[]>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(pids).map(([name, list]) => [
      name,
      list.reduce((sum, pid) => sum + (processRssBytes(pid) ?? Number.NaN), 0),
    ]),
  );
}

interface CpuSample {
  at: number;
  cpu: Record<string, number>;
}

/** % of one core each process used between two samples. */
function cpuPercent(from: CpuSample, to: CpuSample): Record<string, number> {
  const wall = to.at - from.at;
  return Object.fromEntries(
    Object.keys(to.cpu).map((name) => [name, ((to.cpu[name]! - from.cpu[name]!) / wall) * 100]),
  );
}

interface LivenessLine {
  node: string;
  change: 'lost' | 'back';
  at: number;
}

function livenessLines(log: HubLogLine[]): { changes: LivenessLine[]; other: HubLogLine[] } {
  const changes: LivenessLine[] = [];
  const other: HubLogLine[] = [];
  for (const entry of log) {
    const match = /^node (\S+) is (lost|back)\b/.exec(entry.line);
    if (match) changes.push({ node: match[1]!, change: match[2] as 'lost' | 'back', at: entry.at });
    else other.push(entry);
  }
  return { changes, other };
}

interface SimResult {
  nodes: number;
  services: number;
  connectMs: number;
  apply: ApplyTimes & { traffic: HubTraffic; cpuPct: Record<string, number> };
  lostDuringApply: LivenessLine[];
  idle: {
    seconds: number;
    traffic: HubTraffic;
    cpuPct: Record<string, number>;
    /** First and last third of the window: flat, or climbing? */
    cpuPctThirds: [Record<string, number>, Record<string, number>];
    rssMax: Record<string, number>;
    /** The hub process's own view at the end of the window. */
    hubMemory: NodeJS.MemoryUsage;
    lost: LivenessLine[];
  };
  cuts: CutResult[];
  counts: SimAgentCounts;
  otherLog: HubLogLine[];
}

/** Where the cut falls between two heartbeats of the node. */
type CutMoment = 'random' | 'after-heartbeat';
const CUTS: readonly CutMoment[] = ['random', 'after-heartbeat'];

interface CutResult {
  victim: string;
  moment: CutMoment;
  upstreams: number;
  /** From the cut: the status report shows it down, the hub logs it lost, the gateway drops it. */
  downMs: number | undefined;
  lostLogMs: number | undefined;
  routesOutMs: number | undefined;
  /** From the link back: the report shows it up, its upstreams are back, the stack is ready. */
  upMs: number | undefined;
  routesBackMs: number | undefined;
  readyMs: number | undefined;
}

const since = (at: number | null | undefined, from: number) =>
  at === null || at === undefined ? undefined : Math.max(0, at - from);

/** Cuts `victim`'s link for CUT_MS and brings it back, timing what the hub and gateway do. */
async function cutAndRestore(
  rpc: { hub: RpcChild; agents: RpcChild; gateway: RpcChild },
  gateway: string,
  victim: { node: string; dials: string[]; moment: CutMoment },
): Promise<CutResult> {
  const { node, dials } = victim;
  const cutAt = await rpc.agents.call<number>('cutOff', [
    node,
    victim.moment === 'after-heartbeat',
  ]);
  const [downAt, routesOutAt] = await Promise.all([
    rpc.hub.call<number | null>('waitNode', [node, false, WAIT_MS]),
    rpc.gateway.call<number | null>('gatewayWhen', [gateway, dials, false, cutAt, WAIT_MS]),
  ]);
  await sleep(Math.max(0, cutAt + CUT_MS - Date.now()));
  const lostLine = livenessLines(
    await rpc.hub.call<HubLogLine[]>('logSince', [cutAt]),
  ).changes.find((change) => change.node === node && change.change === 'lost');
  const backSince = Date.now();
  const waits = Promise.all([
    rpc.hub.call<number | null>('waitNode', [node, true, WAIT_MS]),
    rpc.gateway.call<number | null>('gatewayWhen', [gateway, dials, true, backSince, WAIT_MS]),
  ]);
  const backAt = await rpc.agents.call<number>('reconnect', [node]);
  const [upAt, routesBackAt] = await waits;
  const readyAt = await rpc.hub.call<number | null>('waitReady', [WAIT_MS]);
  return {
    victim: node,
    moment: victim.moment,
    upstreams: dials.length,
    downMs: since(downAt, cutAt),
    lostLogMs: since(lostLine?.at, cutAt),
    routesOutMs: since(routesOutAt, cutAt),
    upMs: since(upAt, backAt),
    routesBackMs: since(routesBackAt, backAt),
    readyMs: since(readyAt, backAt),
  };
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let index = 0; index < list.length; index += size)
    result.push(list.slice(index, index + size));
  return result;
}

/** Kills `pid` at cleanup if it is still the process that was started (nats-server, orphaned). */
function killAtCleanup(pid: number): void {
  const startTime = readProcStat(pid)?.startTime;
  onCleanup(async () => {
    const stat = readProcStat(pid);
    if (stat && stat.state !== 'Z' && stat.startTime === startTime) process.kill(pid, 'SIGKILL');
  });
}

async function simulate(n: number, options: Options): Promise<SimResult> {
  const dir = await mkdtemp(path.join(tmpdir(), `flotilla-cluster-sim-${n}-`));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  const stackFile = path.join(dir, 'flotilla.yml');
  await writeFile(stackFile, simStackYaml(n, options.services));

  const profileDir = process.env['BENCH_HUB_CPU_PROF'];
  const hub = RpcChild.start(
    'sim hub',
    HUB_ENTRY,
    profileDir ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(profileDir)] : [],
  );
  const started = await hub.call<SimHubStarted>('start', [dir, stackFile]);
  killAtCleanup(started.natsPid);
  const nodes = simNodes(n);
  const groups = chunks(nodes, options.agentsPerProcess).map((group, index) => ({
    nodes: group,
    rpc: RpcChild.start(`sim agents ${index + 1}`, AGENTS_ENTRY),
  }));
  const groupOf = (node: string) => groups.find((group) => group.nodes.includes(node))!.rpc;
  const pids = {
    hub: [hub.pid],
    nats: [started.natsPid],
    agents: groups.map((group) => group.rpc.pid),
  };
  try {
    const connectStarted = performance.now();
    await Promise.all(
      groups.map((group) =>
        group.rpc.call('start', [
          {
            url: started.busUrl,
            hubKey: started.hubKey,
            stack: started.stack,
            healthyAfterMs: options.healthyMs,
            nodes: group.nodes.map((node) => ({
              node,
              user: started.agents[node]!.user,
              pass: started.agents[node]!.pass,
              gateway: started.gateways.includes(node),
            })),
          } satisfies SimAgentsOptions,
        ]),
      ),
    );
    const deadline = Date.now() + REPORTING_TIMEOUT_MS;
    while ((await hub.call<number>('reporting')) < n) {
      if (Date.now() > deadline)
        throw new Error(
          `not every simulated agent reported within ${REPORTING_TIMEOUT_MS / 1000} s`,
        );
      await sleep(100);
    }
    const connectMs = performance.now() - connectStarted;

    // 1. apply → ready
    const runStart = Date.now();
    const trafficBefore = await hub.call<HubTraffic>('traffic');
    const cpuBefore: CpuSample = { at: Date.now(), cpu: cpuNow(pids) };
    const applied = await hub.call<ApplyTimes>('apply', [stackFile, 300_000], 330_000);
    const cpuApplied: CpuSample = { at: Date.now(), cpu: cpuNow(pids) };
    const trafficApplied = await hub.call<HubTraffic>('traffic');
    await sleep(SETTLE_MS);

    // 2. idle
    const idleStart = Date.now();
    const trafficIdle = await hub.call<HubTraffic>('traffic');
    const samples: CpuSample[] = [{ at: Date.now(), cpu: cpuNow(pids) }];
    const rssMax = rssNow(pids);
    const idleEnd = idleStart + options.idleS * 1000;
    while (Date.now() < idleEnd) {
      await sleep(Math.min(SAMPLE_MS, idleEnd - Date.now()));
      samples.push({ at: Date.now(), cpu: cpuNow(pids) });
      for (const [name, bytes] of Object.entries(rssNow(pids)))
        rssMax[name] = Math.max(rssMax[name]!, bytes);
    }
    const trafficIdleEnd = await hub.call<HubTraffic>('traffic');
    const hubMemory = await hub.call<NodeJS.MemoryUsage>('memory');
    const idleSeconds = (samples.at(-1)!.at - samples[0]!.at) / 1000;
    const third = Math.max(1, Math.floor((samples.length - 1) / 3));
    const log = livenessLines(await hub.call<HubLogLine[]>('logSince', [runStart]));

    // 3. loss and 4. recovery, twice: at a random moment, and right after a heartbeat
    const gateway = started.gateways[0]!;
    const victims: { node: string; dials: string[] }[] = [];
    for (const node of [...nodes].reverse()) {
      if (node === gateway || victims.length === CUTS.length) continue;
      const dials = await hub.call<string[]>('nodeDials', [gateway, node]);
      if (dials.length > 0) victims.push({ node, dials });
    }
    if (victims.length < CUTS.length)
      throw new Error('too few nodes other than the gateway have routed upstreams');
    const cuts: CutResult[] = [];
    for (const [index, cut] of CUTS.entries()) {
      const { node, dials } = victims[index]!;
      cuts.push(
        await cutAndRestore({ hub, agents: groupOf(node), gateway: groupOf(gateway) }, gateway, {
          node,
          dials,
          moment: cut,
        }),
      );
    }

    const counts = await Promise.all(
      groups.map((group) => group.rpc.call<SimAgentCounts>('counts')),
    );
    return {
      nodes: n,
      services: n * options.services,
      connectMs,
      apply: {
        ...applied,
        traffic: {
          received: minus(trafficApplied.received, trafficBefore.received),
          sent: minus(trafficApplied.sent, trafficBefore.sent),
        },
        cpuPct: cpuPercent(cpuBefore, cpuApplied),
      },
      lostDuringApply: log.changes.filter(
        (change) => change.change === 'lost' && change.at < idleStart,
      ),
      idle: {
        seconds: idleSeconds,
        traffic: {
          received: minus(trafficIdleEnd.received, trafficIdle.received),
          sent: minus(trafficIdleEnd.sent, trafficIdle.sent),
        },
        cpuPct: cpuPercent(samples[0]!, samples.at(-1)!),
        cpuPctThirds: [
          cpuPercent(samples[0]!, samples[third]!),
          cpuPercent(samples.at(-1 - third)!, samples.at(-1)!),
        ],
        rssMax,
        hubMemory,
        lost: log.changes.filter(
          (change) => change.change === 'lost' && change.at >= idleStart && change.at <= idleEnd,
        ),
      },
      cuts,
      counts: counts.reduce(addCounts),
      otherLog: log.other,
    };
  } finally {
    await Promise.all(groups.map((group) => group.rpc.stop()));
    await hub.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function addCounts(a: SimAgentCounts, b: SimAgentCounts): SimAgentCounts {
  const received = { ...a.received };
  for (const kind of Object.keys(received) as (keyof typeof received)[])
    received[kind] += b.received[kind];
  const unchanged = { ...a.unchanged };
  for (const kind of Object.keys(unchanged) as (keyof typeof unchanged)[])
    unchanged[kind] += b.unchanged[kind];
  return {
    received,
    unchanged,
    refused: a.refused + b.refused,
    reports: a.reports + b.reports,
    heartbeats: a.heartbeats + b.heartbeats,
    events: a.events + b.events,
  };
}

const seconds = (ms: number | undefined) => (ms === undefined ? 'never' : `${fmt(ms / 1000)} s`);
const pct = (value: number | undefined) => (value === undefined ? '—' : `${fmt(value)} %`);
const mib = (bytes: number | undefined) => (bytes === undefined ? '—' : `${fmt(bytes / MIB)} MiB`);

function printResult(result: SimResult): void {
  const { apply, idle } = result;
  const s = idle.seconds;
  const into = total(idle.traffic.received);
  const out = total(idle.traffic.sent);
  console.log(`\n== N = ${result.nodes}: ${result.services} services ==`);
  console.log(`agents connected and reporting: ${seconds(result.connectMs)}`);
  console.log(
    `apply → ready: ${seconds(apply.readyMs)} (stack file loaded after ${seconds(apply.loadMs)}, hub.apply returned after ${seconds(apply.appliedMs)})` +
      (apply.pending ? `\n  NOT READY: ${apply.pending}` : ''),
  );
  console.log(`  hub → nodes: ${byCount(apply.traffic.sent)}`);
  console.log(`  nodes → hub: ${byCount(apply.traffic.received)}`);
  console.log(
    `  CPU during apply: hub ${pct(apply.cpuPct['hub'])}, nats-server ${pct(apply.cpuPct['nats'])}, agents process(es) ${pct(apply.cpuPct['agents'])}`,
  );
  console.log(
    `  nodes called lost during apply and settle: ${describeLost(result.lostDuringApply)}`,
  );
  console.log(`idle ${fmt(s)} s:`);
  console.log(
    `  nodes → hub: ${fmt(into.messages / s)} msg/s, ${fmt(into.bytes / s)} B/s; per node ${fmt(into.messages / s / result.nodes)} msg/s, ${fmt(into.bytes / s / result.nodes)} B/s`,
  );
  console.log(`    ${byKind(idle.traffic.received, s)}`);
  console.log(
    `  hub → nodes: ${fmt(out.messages / s)} msg/s, ${fmt(out.bytes / s)} B/s${out.messages > 0 ? `: ${byKind(idle.traffic.sent, s)}` : ''}`,
  );
  for (const [name, label] of [
    ['hub', 'hub process'],
    ['nats', 'nats-server'],
    ['agents', 'agents process(es), simulated'],
  ] as const)
    console.log(
      `  ${label}: CPU ${pct(idle.cpuPct[name])} (first third ${pct(idle.cpuPctThirds[0][name])}, last third ${pct(idle.cpuPctThirds[1][name])}), RSS ≤ ${mib(idle.rssMax[name])}`,
    );
  const memory = idle.hubMemory;
  console.log(
    `  hub process at the end: heap ${mib(memory.heapUsed)} used of ${mib(memory.heapTotal)}, external ${mib(memory.external)}, RSS ${mib(memory.rss)}`,
  );
  console.log(`  nodes called lost: ${describeLost(idle.lost)}`);
  for (const cut of result.cuts) {
    console.log(
      `loss of ${cut.victim} (${cut.upstreams} routed upstreams), its link dead ${cut.moment === 'random' ? 'at a random moment' : 'right after a heartbeat (the worst moment)'}:`,
    );
    console.log(
      `  status report shows it down ${seconds(cut.downMs)}; hub logs it lost ${seconds(cut.lostLogMs)}; gateway config without its upstreams ${seconds(cut.routesOutMs)}`,
    );
    console.log(
      `  link back: up ${seconds(cut.upMs)}; upstreams back in the gateway config ${seconds(cut.routesBackMs)}; ready ${seconds(cut.readyMs)}`,
    );
  }
  const { counts } = result;
  console.log(
    `agents received: ${Object.entries(counts.received)
      .map(([kind, count]) => `${kind} ${count}`)
      .join(
        ', ',
      )}; refused ${counts.refused}; sent ${counts.reports} reports, ${counts.heartbeats} heartbeats, ${counts.events} events`,
  );
  console.log(
    `  of which a new revision of content the agent already held: ${Object.entries(counts.unchanged)
      .map(([kind, count]) => `${kind} ${count}`)
      .join(', ')}`,
  );
  if (result.otherLog.length > 0) {
    console.log(`hub log, other lines (${result.otherLog.length}):`);
    for (const entry of result.otherLog.slice(0, 10)) console.log(`  ${entry.line}`);
  }
}

function byCount(traffic: Traffic): string {
  const kinds = Object.entries(traffic);
  if (kinds.length === 0) return 'nothing';
  const sum = total(traffic);
  return `${sum.messages} messages, ${fmt(sum.bytes / MIB)} MiB (${kinds
    .map(
      ([kind, entry]) =>
        `${kind} ${entry.messages} × ${fmt(entry.bytes / entry.messages / 1024)} KiB`,
    )
    .join(', ')})`;
}

function describeLost(lost: LivenessLine[]): string {
  if (lost.length === 0) return '0';
  return `${lost.length} (${[...new Set(lost.map((line) => line.node))].join(', ')})`;
}

/** Idle figures per node and per second, the ones "constant in N" is about. */
function perNode(result: SimResult) {
  const s = result.idle.seconds;
  const into = total(result.idle.traffic.received);
  const out = total(result.idle.traffic.sent);
  return {
    inMessages: into.messages / s / result.nodes,
    inBytes: into.bytes / s / result.nodes,
    outMessages: out.messages / s / result.nodes,
    hubCpu: result.idle.cpuPct['hub']! / result.nodes,
    natsCpu: result.idle.cpuPct['nats']! / result.nodes,
  };
}

type CutFigure = 'downMs' | 'routesOutMs' | 'routesBackMs';

/** The slowest of a run's cuts; undefined if one never happened. */
function slowest(result: SimResult, key: CutFigure): number | undefined {
  const values = result.cuts.map((cut) => cut[key]);
  return values.some((value) => value === undefined)
    ? undefined
    : Math.max(...(values as number[]));
}

/** `2.1 / 2.7 s`: each cut's figure, in CUTS order. */
function cutFigures(result: SimResult, key: CutFigure): string {
  return `${result.cuts.map((cut) => (cut[key] === undefined ? 'never' : fmt(cut[key] / 1000))).join(' / ')} s`;
}

function printSummary(results: SimResult[]): void {
  console.log('\n== Summary ==');
  const rows = [
    [
      'N',
      'services',
      'apply→ready',
      'idle in msg/s',
      'in B/s',
      '/node msg/s',
      '/node B/s',
      'out msg/s',
      'hub CPU',
      'hub RSS',
      'nats CPU',
      'nats RSS',
      'false lost',
      'down (rand/worst)',
      'routes out (rand/worst)',
      'routes back',
    ],
  ];
  for (const result of results) {
    const s = result.idle.seconds;
    const into = total(result.idle.traffic.received);
    const out = total(result.idle.traffic.sent);
    const per = perNode(result);
    rows.push([
      String(result.nodes),
      String(result.services),
      seconds(result.apply.readyMs),
      fmt(into.messages / s),
      fmt(into.bytes / s),
      fmt(per.inMessages),
      fmt(per.inBytes),
      fmt(out.messages / s),
      pct(result.idle.cpuPct['hub']),
      mib(result.idle.rssMax['hub']),
      pct(result.idle.cpuPct['nats']),
      mib(result.idle.rssMax['nats']),
      String(result.idle.lost.length + result.lostDuringApply.length),
      cutFigures(result, 'downMs'),
      cutFigures(result, 'routesOutMs'),
      seconds(slowest(result, 'routesBackMs')),
    ]);
  }
  console.log(table(rows));
  console.log(
    '(idle: in = nodes → hub, out = hub → nodes; CPU: % of one core; false lost: apply + idle)',
  );

  if (results.length < 2) return;
  console.log('\n== Growth per step ==');
  const growth = [
    [
      'step',
      'nodes',
      'apply→ready',
      'idle msg/s',
      'idle B/s',
      'hub CPU',
      'hub RSS',
      'nats CPU',
      'nats RSS',
    ],
  ];
  for (let index = 1; index < results.length; index++) {
    const [a, b] = [results[index - 1]!, results[index]!];
    const rate = (result: SimResult, key: 'messages' | 'bytes') =>
      total(result.idle.traffic.received)[key] / result.idle.seconds;
    growth.push([
      `${a.nodes} → ${b.nodes}`,
      ratio(b.nodes, a.nodes),
      ratio(b.apply.readyMs ?? Number.NaN, a.apply.readyMs ?? Number.NaN),
      ratio(rate(b, 'messages'), rate(a, 'messages')),
      ratio(rate(b, 'bytes'), rate(a, 'bytes')),
      ratio(b.idle.cpuPct['hub']!, a.idle.cpuPct['hub']!),
      ratio(b.idle.rssMax['hub']!, a.idle.rssMax['hub']!),
      ratio(b.idle.cpuPct['nats']!, a.idle.cpuPct['nats']!),
      ratio(b.idle.rssMax['nats']!, a.idle.rssMax['nats']!),
    ]);
  }
  console.log(table(growth));
  console.log('(linear in N: each ratio equals the nodes ratio; constant per node: the same)');
}

function printGoals(results: SimResult[]): void {
  console.log('\n== Goals (issue 11) ==');
  const line = (pass: boolean, text: string) => console.log(`${pass ? 'PASS' : 'FAIL'}  ${text}`);
  const list = (pick: (result: SimResult) => string) =>
    results.map((r) => `${r.nodes}: ${pick(r)}`).join(', ');
  line(
    results.every((r) => r.apply.readyMs !== undefined),
    `every apply reached ready (${list((r) => seconds(r.apply.readyMs))})`,
  );
  line(
    results.every((r) => perNode(r).inMessages <= GOALS.idleMessagesPerNodeSecond),
    `idle node → hub messages ≤ ${GOALS.idleMessagesPerNodeSecond} per node per second (${list((r) => fmt(perNode(r).inMessages))})`,
  );
  if (results.length >= 2) {
    const [first, last] = [perNode(results[0]!), perNode(results.at(-1)!)];
    const grows = (key: keyof typeof first, limit: number, what: string) =>
      line(
        last[key] <= first[key] * limit || (first[key] === 0 && last[key] === 0),
        `per-node idle ${what} constant in N: ×${fmt(last[key] / first[key])} from N = ${results[0]!.nodes} to ${results.at(-1)!.nodes} (≤ ×${limit})`,
      );
    grows('inMessages', GOALS.trafficGrowth, 'messages node → hub');
    grows('inBytes', GOALS.trafficGrowth, 'bytes node → hub');
    line(
      results.every((r) => total(r.idle.traffic.sent).messages === 0),
      `idle hub → node messages: none (${list((r) => String(total(r.idle.traffic.sent).messages))})`,
    );
    grows('hubCpu', GOALS.cpuGrowth, 'hub CPU');
    grows('natsCpu', GOALS.cpuGrowth, 'nats-server CPU');
  }
  line(
    results.every((r) => r.idle.lost.length === 0 && r.lostDuringApply.length === 0),
    `0 false "lost" (idle: ${list((r) => String(r.idle.lost.length))}; apply: ${list((r) => String(r.lostDuringApply.length))})`,
  );
  for (const [key, what] of [
    ['routesOutMs', 'out of the routes'],
    ['downMs', 'shown down'],
  ] as const)
    line(
      results.every((r) => (slowest(r, key) ?? Infinity) <= GOALS.lossMs),
      `a cut node ${what} ≤ ${GOALS.lossMs / 1000} s, cut at a random moment / right after a heartbeat (${list((r) => cutFigures(r, key))})`,
    );
  const at12 = results.find((r) => r.nodes === 12);
  if (at12) {
    const cpu = at12.idle.cpuPct['hub']! + at12.idle.cpuPct['nats']!;
    line(
      cpu <= GOALS.hubNatsCpuAt12,
      `hub + nats-server idle at N = 12 ≤ ${GOALS.hubNatsCpuAt12} % of a core: ${pct(cpu)} (the lab goal also counts the hub node's agent)`,
    );
  }
  const refused = results.reduce((sum, r) => sum + r.counts.refused, 0);
  line(refused === 0, `no simulated agent refused a message from the hub (${refused})`);
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  console.log(await machineLine('cluster-sim'));
  console.log(
    `nodes ${options.nodes.join(', ')}; ${options.services} services per node; idle ${options.idleS} s; instances healthy ${options.healthyMs} ms after start; ${options.agentsPerProcess} simulated agents per process`,
  );
  const results: SimResult[] = [];
  for (const n of options.nodes) {
    const result = await simulate(n, options);
    printResult(result);
    results.push(result);
  }
  printSummary(results);
  printGoals(results);
}

runBench(main);
