// bench/cluster-scale: what the control plane costs as the cluster grows (issue 11). For each
// N it brings up a real lab cluster (`flotilla hub` on n1, agents joined with tokens on the
// others; WireGuard, nftables, NATS, Caddy for real) and measures, with `--services` tiny
// health-checked HTTP services per node (bench/lib/scale-stack.ts):
//   1. join: each node in turn, from `flotilla agent --join <token>` until the hub's status
//      shows it up (the token itself is made beforehand and not counted);
//   2. apply → ready: `flotilla apply` of the N × services stack until every instance is
//      healthy and every route routed (apply waits for that);
//   3. idle, after `--settle-s`, for `--idle-s`: bus messages and bytes each way (`GET /api/v1/bus`
//      deltas), CPU (% of one core, /proc utime+stime over wall time) and RSS of the hub daemon
//      (it runs the hub node's agent too), nats-server and the agents, and false "lost" (hub
//      log lines `node X is lost` while nothing was cut, and nodes down in `status` samples);
//   4. node loss: the non-hub node serving the most routes has its link cut; time until its
//      upstreams leave rotation (the gateway's upstream DNS responder stops answering them:
//      bench/lib/dns-watch.ts asks it every 25 ms inside the gateway's namespace; Caddy follows
//      within its 100 ms refresh), and after `--outage-s` and the link's return, until they
//      are back and the stack is ready.
// Then a table across N, growth per doubling, and PASS/FAIL lines for the issue's goals.
//
//   node_modules/.bin/tsx bench/cluster-scale.ts [--nodes 2,4,8,12,16] [--idle-s 60]
//     [--services 10] [--settle-s 15] [--outage-s 10]
//
// Everything (lab namespaces, processes, temp dirs) is removed after each N, and on failure
// or Ctrl-C. A failed N is reported and the series goes on; the exit code is then 1.
import {
  copyFile,
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { labDown, MAX_NODES } from '../src/lab/lab.ts';
import type { StatusReport } from '../src/hub/status-report.ts';
import { upstreamName } from '../src/plan/caddy.ts';
import { LabCluster } from '../test/helpers/lab-cluster.ts';
import { processCpuMs } from './lib/cpu.ts';
import { brief, LabHubApi, type BusTraffic } from './lib/lab-hub-api.ts';
import {
  killSurvivors,
  labProcesses,
  rssBytes,
  type LabProcess,
  type LabProcessKind,
} from './lib/lab-processes.ts';
import { scaleStack } from './lib/scale-stack.ts';
import { FIXTURES, machineLine, onCleanup, runBench, sleep } from './lib/stack.ts';
import { UpstreamWatch } from './lib/upstream-watch.ts';
import { fmt, max, median, table } from './lib/stats.ts';

const USAGE =
  'usage: tsx bench/cluster-scale.ts [--nodes 2,4,8,12,16] [--idle-s 60] [--services 10] [--settle-s 15] [--outage-s 10]';
const MIB = 1024 * 1024;

interface Options {
  nodes: number[];
  idleS: number;
  perNode: number;
  settleS: number;
  outageS: number;
  /** Where to copy the hub's and agents' logs of each N before the lab goes. */
  keepLogs: string | undefined;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        nodes: { type: 'string', default: '2,4,8,12,16' },
        'idle-s': { type: 'string', default: '60' },
        services: { type: 'string', default: '10' },
        'settle-s': { type: 'string', default: '15' },
        'outage-s': { type: 'string', default: '10' },
        'keep-logs': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const whole = (name: string, text: string, min: number, maxValue: number): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > maxValue)
      throw new UsageError(`--${name} ${text}: use a whole number from ${min} to ${maxValue}`);
    return value;
  };
  const nodes = values.nodes.split(',').map((part) => whole('nodes', part.trim(), 2, MAX_NODES));
  return {
    nodes: [...new Set(nodes)].sort((a, b) => a - b),
    idleS: whole('idle-s', values['idle-s'], 5, 24 * 3600),
    perNode: whole('services', values.services, 1, 50),
    settleS: whole('settle-s', values['settle-s'], 0, 3600),
    outageS: whole('outage-s', values['outage-s'], 4, 600),
    keepLogs: values['keep-logs'] === undefined ? undefined : path.resolve(values['keep-logs']),
  };
}

/** A rough duration, from runs on this 2-core lab: lab and hub, ~3 s a join, apply, down. */
function expectedSeconds(options: Options): number {
  return options.nodes.reduce(
    (total, n) =>
      total +
      15 +
      3 * (n - 1) +
      (2 + 0.05 * n * options.perNode) +
      options.settleS +
      options.idleS +
      options.outageS +
      10 +
      (10 + n),
    0,
  );
}

// ---- results --------------------------------------------------------------------------------

interface Join {
  node: string;
  /** From the agent's start until it logged that it connects to the bus: joined, mesh interface up. */
  meshMs: number | undefined;
  /** From the agent's start with the token until it said it runs. */
  runningMs: number;
  /** From the agent's start until the hub's status showed the node up. */
  upMs: number;
}

interface LostLine {
  at: number;
  node: string;
  line: string;
}

interface Idle {
  seconds: number;
  /** node → hub (received by the hub) and hub → node (sent), per kind. */
  received: BusTraffic['received'];
  sent: BusTraffic['sent'];
  /** % of one core over the window. */
  cpu: {
    hub: number;
    nats: number;
    agents: number[];
    caddy: number;
    wireguard: number[];
    instances: number;
  };
  rss: { hub: number; nats: number; agents: number[]; caddy: number };
  /** The node of each agent, in the order of `cpu.agents` and `rss.agents`. */
  agentNodes: string[];
  /** Per slice of the window: hub and nats CPU %, node → hub messages/s. */
  slices: { hubPct: number; natsPct: number; inPerS: number; nodesDown: number }[];
  falseLost: LostLine[];
  /** Status samples (one per slice) × nodes shown down. */
  nodesDown: number;
  hubLogLines: string[];
  agentLogLines: string[];
}

interface Loss {
  node: string;
  routedPorts: number[];
  outMs: number;
  /** When the hub logged the node lost, ms after the cut (undefined: it did not). */
  lostLoggedMs: number | undefined;
  /** When the hub logged it back, ms after the link returned. */
  backLoggedMs: number | undefined;
  backMs: number;
  readyMs: number;
  otherLost: LostLine[];
}

interface ScaleResult {
  n: number;
  services: number;
  routes: number;
  hubStartMs: number;
  joins: Join[];
  allJoinedReadyMs: number;
  applyMs: number;
  setupLost: LostLine[];
  idle: Idle;
  loss: Loss | undefined;
}

// ---- measuring ------------------------------------------------------------------------------

/** `node X is lost` (or `is back`) lines of the hub's log, with their time (its ISO stamps). */
async function livenessLines(
  cluster: LabCluster,
  change: 'lost' | 'back' = 'lost',
): Promise<LostLine[]> {
  const log = await readFile(
    path.join(cluster.stateDir(cluster.nodes[0]!), 'daemon.log'),
    'utf8',
  ).catch(() => '');
  const lines: LostLine[] = [];
  for (const line of log.split('\n')) {
    const match = new RegExp(`^(\\S+) node (\\S+) is ${change}`).exec(line);
    if (match) lines.push({ at: Date.parse(match[1]!), node: match[2]!, line });
  }
  return lines;
}

/** Timestamped log lines logged in [from, to] (Date.now() ms). */
function linesBetween(log: string, from: number, to: number): string[] {
  return log.split('\n').filter((line) => {
    const at = Date.parse(line.split(' ', 1)[0] ?? '');
    return Number.isFinite(at) && at >= from && at <= to;
  });
}

const between = (lines: LostLine[], from: number, to: number) =>
  lines.filter((line) => line.at >= from && line.at <= to);

type CpuSnapshot = Map<LabProcess, number>;

function cpuSnapshot(processes: readonly LabProcess[]): CpuSnapshot {
  return new Map(processes.map((owned) => [owned, processCpuMs(owned.pid) ?? Number.NaN]));
}

/** % of one core each process used between two snapshots `wallMs` apart. */
function cpuPercent(
  before: CpuSnapshot,
  after: CpuSnapshot,
  wallMs: number,
): Map<LabProcess, number> {
  return new Map(
    [...before].map(([owned, ms]) => [owned, ((after.get(owned)! - ms) / wallMs) * 100]),
  );
}

function ofKind(values: Map<LabProcess, number>, kind: LabProcessKind): number[] {
  return [...values].filter(([owned]) => owned.kind === kind).map(([, value]) => value);
}

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

function delta(
  after: BusTraffic['received'],
  before: BusTraffic['received'],
): BusTraffic['received'] {
  return Object.fromEntries(
    Object.entries(after).map(([kind, count]) => [
      kind,
      {
        messages: count.messages - (before[kind]?.messages ?? 0),
        bytes: count.bytes - (before[kind]?.bytes ?? 0),
      },
    ]),
  );
}

const totalOf = (traffic: BusTraffic['received'], field: 'messages' | 'bytes') =>
  sum(Object.values(traffic).map((count) => count[field]));

async function measureIdle(cluster: LabCluster, api: LabHubApi, seconds: number): Promise<Idle> {
  const processes = await labProcesses(cluster);
  const hub = processes.find((owned) => owned.kind === 'hub');
  const nats = processes.find((owned) => owned.kind === 'nats');
  if (!hub || !nats) throw new Error('the hub daemon or nats-server is not running');
  const agentLogStart = new Map(cluster.nodes.map((node) => [node, cluster.agentLog(node).length]));
  const sliceMs = Math.max(10_000, (seconds * 1000) / 10);
  const bus0 = await api.bus();
  const cpu0 = cpuSnapshot(processes);
  const started = performance.now();
  const wallStart = Date.now();
  const slices: Idle['slices'] = [];
  let previous = { cpu: cpu0, bus: bus0, at: started };
  let nodesDown = 0;
  while (performance.now() - started < seconds * 1000 - 100) {
    await sleep(Math.min(sliceMs, seconds * 1000 - (performance.now() - started)));
    const cpu = cpuSnapshot(processes);
    const at = performance.now();
    const bus = await api.bus();
    const report = await api.status();
    const down = Object.values(report.nodes).filter((node) => !node.up).length;
    nodesDown += down;
    const percent = cpuPercent(previous.cpu, cpu, at - previous.at);
    slices.push({
      hubPct: percent.get(hub)!,
      natsPct: percent.get(nats)!,
      inPerS:
        (totalOf(bus.received, 'messages') - totalOf(previous.bus.received, 'messages')) /
        ((at - previous.at) / 1000),
      nodesDown: down,
    });
    previous = { cpu, bus, at };
  }
  const wallEnd = Date.now();
  const wallMs = previous.at - started;
  const percent = cpuPercent(cpu0, previous.cpu, wallMs);
  const rss = (owned: LabProcess | undefined) =>
    owned === undefined ? Number.NaN : (rssBytes(owned.pid) ?? Number.NaN);
  const hubLog = await readFile(
    path.join(cluster.stateDir(cluster.nodes[0]!), 'daemon.log'),
    'utf8',
  );
  return {
    seconds: wallMs / 1000,
    received: delta(previous.bus.received, bus0.received),
    sent: delta(previous.bus.sent, bus0.sent),
    cpu: {
      hub: percent.get(hub)!,
      nats: percent.get(nats)!,
      agents: ofKind(percent, 'agent'),
      caddy: sum(ofKind(percent, 'caddy')),
      wireguard: ofKind(percent, 'wireguard'),
      instances: sum(ofKind(percent, 'instance')),
    },
    rss: {
      hub: rss(hub),
      nats: rss(nats),
      agents: processes.filter((owned) => owned.kind === 'agent').map(rss),
      caddy: rss(processes.find((owned) => owned.kind === 'caddy')),
    },
    agentNodes: processes.filter((owned) => owned.kind === 'agent').map((owned) => owned.node),
    slices,
    falseLost: between(await livenessLines(cluster), wallStart, wallEnd),
    nodesDown,
    hubLogLines: linesBetween(hubLog, wallStart, wallEnd),
    agentLogLines: cluster.nodes.flatMap((node) =>
      cluster
        .agentLog(node)
        .slice(agentLogStart.get(node))
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => `${node}: ${line}`),
    ),
  };
}

/** The services with a route that run on `node`, and their instances' host ports. */
function routedOn(report: StatusReport, node: string): { services: string[]; ports: number[] } {
  const routed = new Set(report.routes.map((route) => route.service));
  const instances = report.instances.filter(
    (instance) => instance.node === node && routed.has(instance.service),
  );
  return {
    services: [...new Set(instances.map((instance) => instance.service))],
    ports: instances.flatMap((instance) => Object.values(instance.ports)),
  };
}

/** Whether an instance on host port `port` serves a route (every service has its own port). */
function serves(sets: ReadonlyMap<string, readonly string[] | undefined>, port: number): boolean {
  return [...sets.values()].some((dials) => dials?.some((dial) => dial.endsWith(`:${port}`)));
}

async function measureLoss(
  cluster: LabCluster,
  api: LabHubApi,
  outageS: number,
): Promise<Loss | undefined> {
  const report = await api.status();
  const candidates = cluster.nodes
    .slice(1)
    .map((node) => ({ node, ...routedOn(report, node) }))
    .sort((a, b) => b.ports.length - a.ports.length);
  const victim = candidates[0];
  if (!victim || victim.ports.length === 0) return undefined;
  // Which instances serve: the gateway's upstream DNS responder, on loopback in its namespace.
  const gateway = cluster.nodes[0]!;
  const watch = await UpstreamWatch.start(
    cluster.labNode(gateway).namespace,
    path.join(cluster.stateDir(gateway), 'caddy'),
    victim.services.map((service) => upstreamName({ service, port: 'http' })),
  );
  try {
    const before = watch.current();
    const missing = victim.ports.filter((port) => !serves(before, port));
    if (missing.length > 0)
      throw new Error(
        `ports ${missing.join(', ')} of ${victim.node} are not served before the cut`,
      );

    const cutWall = Date.now();
    await cluster.cutLink(victim.node);
    const outMs =
      (await watch.when(
        (sets) => victim.ports.every((port) => !serves(sets, port)),
        cutWall,
        60_000,
        `${victim.node}'s upstreams leaving the routes`,
      )) - cutWall;
    await sleep(Math.max(0, cutWall + outageS * 1000 - Date.now()));
    const restoredWall = Date.now();
    await cluster.restoreLink(victim.node);
    const backMs =
      (await watch.when(
        (sets) => victim.ports.every((port) => serves(sets, port)),
        restoredWall,
        60_000,
        `${victim.node}'s upstreams coming back`,
      )) - restoredWall;
    await api.until((status) => status.ready, 60_000);
    const readyMs = Date.now() - restoredWall;
    const lost = between(await livenessLines(cluster), cutWall, Date.now());
    const own = lost.find((line) => line.node === victim.node);
    const back = between(await livenessLines(cluster, 'back'), restoredWall, Date.now()).find(
      (line) => line.node === victim.node,
    );
    return {
      node: victim.node,
      routedPorts: victim.ports,
      outMs,
      lostLoggedMs: own ? own.at - cutWall : undefined,
      backLoggedMs: back ? back.at - restoredWall : undefined,
      backMs,
      readyMs,
      otherLost: lost.filter((line) => line.node !== victim.node),
    };
  } finally {
    await watch.stop();
  }
}

// ---- one N ----------------------------------------------------------------------------------

/** Set by Ctrl-C (SIGINT) or SIGTERM: cleanups then skip the graceful `down`. */
let interrupted = false;

/**
 * Closes a cluster for good: `down` (skipped after Ctrl-C, which the agents got too), then
 * the hub daemon and the agents by PID so that none restarts an instance meanwhile, then the
 * lab (LabCluster.close: its lab down stops what runs in the namespaces), then anything the
 * nodes recorded that survived all that.
 */
async function closeCluster(cluster: LabCluster, keepLogs: string | undefined): Promise<void> {
  if (keepLogs !== undefined) await copyLogs(cluster, keepLogs);
  const before = await labProcesses(cluster);
  if (!interrupted) {
    const down = await cluster.hubCli(['down'], cluster.stackFile, 90_000);
    if (down.code !== 0) console.error(`flotilla down failed (${down.code}): ${down.stderr}`);
  }
  const killed = killSurvivors(before.filter(({ kind }) => kind === 'hub' || kind === 'agent'));
  const after = await labProcesses(cluster);
  await cluster.close();
  killed.push(...killSurvivors([...before, ...after]));
  if (killed.length > 0) console.error(`cleanup: killed leftover ${killed.join(', ')}`);
}

/** The hub's daemon.log and each agent's output, as `<dir>/n<N>/<node>.log`, for a timeline. */
async function copyLogs(cluster: LabCluster, dir: string): Promise<void> {
  const into = path.join(dir, `n${cluster.nodes.length}`);
  await mkdir(into, { recursive: true });
  const hub = cluster.nodes[0]!;
  await copyFile(path.join(cluster.stateDir(hub), 'daemon.log'), path.join(into, `${hub}.hub.log`));
  for (const node of cluster.nodes)
    await writeFile(path.join(into, `${node}.log`), cluster.agentLog(node));
}

/** A cluster whose start was interrupted before LabCluster existed: its lab, from the lab dir. */
async function removeHalfStartedLab(): Promise<void> {
  const labs = process.env.FLOTILLA_LAB_DIR;
  if (!labs) return;
  for (const file of await readdir(labs).catch(() => [] as string[]))
    if (file.endsWith('.json')) await labDown(file.slice(0, -'.json'.length)).catch(() => false);
  await rm(path.dirname(labs), { recursive: true, force: true });
  delete process.env.FLOTILLA_LAB_DIR;
}

async function runScale(n: number, options: Options): Promise<ScaleResult> {
  const stack = scaleStack(n, options.perNode);
  const dir = await mkdtemp(path.join(tmpdir(), 'flotilla-cluster-scale-'));
  // Instances run from here on every node: traversable, like LabCluster's own dir.
  await chmod(dir, 0o755);
  const removeDir = onCleanup(() => rm(dir, { recursive: true, force: true }));
  await copyFile(path.join(FIXTURES, 'hello-server.pl'), path.join(dir, 'hello-server.pl'));
  const file = path.join(dir, 'flotilla.yml');
  await writeFile(file, stack.empty);

  let cluster: LabCluster | undefined;
  const close = () => (cluster ? closeCluster(cluster, options.keepLogs) : removeHalfStartedLab());
  const removeClose = onCleanup(close);
  try {
    const setupWall = Date.now();
    const hubStarted = performance.now();
    cluster = await LabCluster.start({
      stackFile: file,
      nodes: stack.nodes,
      joinNodes: false,
      onCreated: (created) => (cluster = created),
    });
    const hubStartMs = performance.now() - hubStarted;
    const api = await LabHubApi.open(cluster);
    await api.until((report) => report.nodes[stack.nodes[0]!]?.up === true, 30_000);

    const joins: Join[] = [];
    for (const node of stack.nodes.slice(1)) {
      const token = await cluster.token(node);
      const startedWall = Date.now();
      const started = performance.now();
      await cluster.startAgent(node, ['--join', token, '--node', node]);
      cluster.usedTokens.set(node, token);
      const runningMs = performance.now() - started;
      await api.until((report) => report.nodes[node]?.up === true, 60_000);
      const connecting = /^(\S+) connecting to the bus/m.exec(cluster.agentLog(node));
      const meshMs = connecting ? Date.parse(connecting[1]!) - startedWall : undefined;
      joins.push({ node, meshMs, runningMs, upMs: performance.now() - started });
      console.log(
        `  join ${node}: up after ${secs(joins.at(-1)!.upMs)} (joined with its mesh interface up ${secs(meshMs)}, agent running ${secs(runningMs)})`,
      );
    }
    const lastJoined = performance.now();
    await api.until((report) => report.ready, 60_000);
    const allJoinedReadyMs = performance.now() - lastJoined;

    await writeFile(file, stack.full);
    const applyStarted = performance.now();
    const applied = await cluster.hubCli(['apply', '--timeout', '300'], file, 330_000);
    const applyMs = performance.now() - applyStarted;
    if (applied.code !== 0)
      throw new Error(
        `apply failed (${applied.code}): ${applied.stderr}${applied.stdout.split('\n').slice(-20).join('\n')}`,
      );
    const report = await api.status();
    if (!report.ready)
      throw new Error(`apply returned but the stack is not ready: ${brief(report)}`);
    console.log(
      `  apply → ready: ${fmt(applyMs / 1000)} s (${report.instances.length} instances, ${report.routes.length} routes)`,
    );

    await sleep(options.settleS * 1000);
    const setupLost = between(await livenessLines(cluster), setupWall, Date.now());
    console.log(`  idle for ${options.idleS} s…`);
    const idle = await measureIdle(cluster, api, options.idleS);
    const loss = await measureLoss(cluster, api, options.outageS);
    return {
      n,
      services: report.instances.length,
      routes: report.routes.length,
      hubStartMs,
      joins,
      allJoinedReadyMs,
      applyMs,
      setupLost,
      idle,
      loss,
    };
  } finally {
    removeClose();
    await close();
    removeDir();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- printing -------------------------------------------------------------------------------

const pct = (value: number) => `${fmt(value)} %`;
const mib = (bytes: number) => `${fmt(bytes / MIB)} MiB`;
const secs = (ms: number | undefined) => (ms === undefined ? '—' : `${fmt(ms / 1000)} s`);

interface Derived {
  inPerS: number;
  outPerS: number;
  inBytesPerS: number;
  outBytesPerS: number;
  inPerNodePerS: number;
  outPerNodePerS: number;
  inBytesPerNodePerS: number;
  outBytesPerNodePerS: number;
  hubNatsPct: number;
  hubNatsPerNodePct: number;
  /** Hub daemon, nats-server and every agent: the whole control plane. */
  controlPlanePct: number;
  nodes: number;
  agentMedianPct: number;
  agentMaxPct: number;
  agentMedianRss: number;
  agentMaxRss: number;
  joinMedianMs: number;
  joinMaxMs: number;
}

function derive(result: ScaleResult): Derived {
  const { idle, n } = result;
  const perS = (value: number) => value / idle.seconds;
  const inPerS = perS(totalOf(idle.received, 'messages'));
  const outPerS = perS(totalOf(idle.sent, 'messages'));
  const inBytesPerS = perS(totalOf(idle.received, 'bytes'));
  const outBytesPerS = perS(totalOf(idle.sent, 'bytes'));
  const hubNatsPct = idle.cpu.hub + idle.cpu.nats;
  const joinTimes = result.joins.map((join) => join.upMs);
  return {
    inPerS,
    outPerS,
    inBytesPerS,
    outBytesPerS,
    inPerNodePerS: inPerS / n,
    outPerNodePerS: outPerS / n,
    inBytesPerNodePerS: inBytesPerS / n,
    outBytesPerNodePerS: outBytesPerS / n,
    hubNatsPct,
    hubNatsPerNodePct: hubNatsPct / n,
    controlPlanePct: hubNatsPct + sum(idle.cpu.agents),
    nodes: n,
    agentMedianPct: median(idle.cpu.agents),
    agentMaxPct: max(idle.cpu.agents),
    agentMedianRss: median(idle.rss.agents),
    agentMaxRss: max(idle.rss.agents),
    joinMedianMs: median(joinTimes),
    joinMaxMs: max(joinTimes),
  };
}

function printResult(result: ScaleResult): void {
  const { idle, loss } = result;
  const d = derive(result);
  const kinds = (traffic: BusTraffic['received']) =>
    Object.entries(traffic)
      .filter(([, count]) => count.messages > 0)
      .map(
        ([kind, count]) =>
          `${kind} ${fmt(count.messages / idle.seconds)}/s ${fmt(count.bytes / idle.seconds)} B/s`,
      )
      .join(', ') || 'nothing';
  const slowest = result.joins.reduce((a, b) => (b.upMs > a.upMs ? b : a));
  /** The node of the agent with the most of `values`. */
  const top = (values: number[]) => idle.agentNodes[values.indexOf(max(values))] ?? '—';
  console.log(`\nN = ${result.n}: ${result.services} services, ${result.routes} routes`);
  console.log(`  lab + hub start: ${secs(result.hubStartMs)}`);
  console.log(
    `  join (agent --join → up in the hub's status): median ${secs(d.joinMedianMs)}, slowest ${secs(slowest.upMs)} (${slowest.node})`,
  );
  console.log(
    `    each (s; joined with its mesh interface up / agent running / up): ${result.joins.map((join) => `${join.node} ${join.meshMs === undefined ? '—' : fmt(join.meshMs / 1000)}/${fmt(join.runningMs / 1000)}/${fmt(join.upMs / 1000)}`).join(', ')}`,
  );
  console.log(`  after the last join, cluster ready in ${secs(result.allJoinedReadyMs)}`);
  console.log(`  apply → ready: ${secs(result.applyMs)}`);
  console.log(`  idle ${fmt(idle.seconds)} s:`);
  console.log(
    `    node → hub: ${fmt(d.inPerS)} msg/s, ${fmt(d.inBytesPerS)} B/s (per node ${fmt(d.inPerNodePerS)} msg/s, ${fmt(d.inBytesPerNodePerS)} B/s): ${kinds(idle.received)}`,
  );
  console.log(
    `    hub → node: ${fmt(d.outPerS)} msg/s, ${fmt(d.outBytesPerS)} B/s (per node ${fmt(d.outPerNodePerS)} msg/s, ${fmt(d.outBytesPerNodePerS)} B/s): ${kinds(idle.sent)}`,
  );
  console.log(
    `    CPU (% of one core): hub daemon ${pct(idle.cpu.hub)}, nats-server ${pct(idle.cpu.nats)}, together ${pct(d.hubNatsPct)}; agents median ${pct(d.agentMedianPct)}, max ${pct(d.agentMaxPct)} (${top(idle.cpu.agents)}), all ${pct(sum(idle.cpu.agents))}`,
  );
  console.log(
    `      also: Caddy ${pct(idle.cpu.caddy)}, wireguard-go median ${pct(median(idle.cpu.wireguard))} (all ${pct(sum(idle.cpu.wireguard))}), the ${result.services} instances ${pct(idle.cpu.instances)}`,
  );
  console.log(
    `    RSS: hub daemon ${mib(idle.rss.hub)}, nats-server ${mib(idle.rss.nats)}, agents median ${mib(d.agentMedianRss)}, max ${mib(d.agentMaxRss)} (${top(idle.rss.agents)}), Caddy ${mib(idle.rss.caddy)}`,
  );
  console.log(
    `    over time (${idle.slices.length} slices): hub ${idle.slices.map((slice) => fmt(slice.hubPct)).join(' ')} %; nats ${idle.slices.map((slice) => fmt(slice.natsPct)).join(' ')} %; node → hub ${idle.slices.map((slice) => fmt(slice.inPerS)).join(' ')} msg/s`,
  );
  console.log(
    `    false lost: ${idle.falseLost.length} in the hub's log, ${idle.nodesDown} node(s) down over ${idle.slices.length} status samples`,
  );
  for (const lost of idle.falseLost) console.log(`      ${lost.line}`);
  const quiet = (lines: string[], who: string) => {
    if (lines.length === 0) return console.log(`    ${who} log during idle: nothing`);
    console.log(`    ${who} log during idle: ${lines.length} lines, first:`);
    for (const line of lines.slice(0, 8)) console.log(`      ${line}`);
  };
  quiet(idle.hubLogLines, "hub's");
  quiet(idle.agentLogLines, "agents'");
  if (result.setupLost.length > 0) {
    console.log(`  "lost" during joins and apply (nothing was cut): ${result.setupLost.length}`);
    for (const lost of result.setupLost.slice(0, 8)) console.log(`    ${lost.line}`);
  }
  if (!loss) console.log('  node loss: no non-hub node serves a route (not measured)');
  else {
    console.log(
      `  node loss: ${loss.node} (upstreams on ports ${loss.routedPorts.join(', ')}) cut: out of the routes after ${secs(loss.outMs)} (hub logged it lost after ${secs(loss.lostLoggedMs)}); link back: the hub logged it back after ${secs(loss.backLoggedMs)}, routed again after ${secs(loss.backMs)}, stack ready after ${secs(loss.readyMs)}`,
    );
    if (loss.otherLost.length > 0) {
      console.log(`    other nodes declared lost meanwhile: ${loss.otherLost.length}`);
      for (const lost of loss.otherLost.slice(0, 8)) console.log(`      ${lost.line}`);
    }
  }
}

type Figure = {
  label: string;
  value: (result: ScaleResult, d: Derived) => number;
  show: (value: number) => string;
};

const FIGURES: Figure[] = [
  { label: 'join median', value: (_, d) => d.joinMedianMs, show: (v) => secs(v) },
  { label: 'join slowest', value: (_, d) => d.joinMaxMs, show: (v) => secs(v) },
  { label: 'apply → ready', value: (r) => r.applyMs, show: (v) => secs(v) },
  { label: 'node→hub msg/s', value: (_, d) => d.inPerS, show: fmt },
  { label: '  per node', value: (_, d) => d.inPerNodePerS, show: fmt },
  { label: 'node→hub B/s per node', value: (_, d) => d.inBytesPerNodePerS, show: fmt },
  { label: 'hub→node msg/s', value: (_, d) => d.outPerS, show: fmt },
  { label: 'hub→node B/s per node', value: (_, d) => d.outBytesPerNodePerS, show: fmt },
  { label: 'hub daemon CPU', value: (r) => r.idle.cpu.hub, show: pct },
  { label: 'nats-server CPU', value: (r) => r.idle.cpu.nats, show: pct },
  { label: 'hub + nats CPU', value: (_, d) => d.hubNatsPct, show: pct },
  { label: '  per node', value: (_, d) => d.hubNatsPerNodePct, show: pct },
  { label: 'agent CPU median', value: (_, d) => d.agentMedianPct, show: pct },
  { label: 'agent CPU max', value: (_, d) => d.agentMaxPct, show: pct },
  { label: 'hub + nats + agents CPU', value: (_, d) => d.controlPlanePct, show: pct },
  { label: '  per node', value: (_, d) => d.controlPlanePct / d.nodes, show: pct },
  { label: 'hub daemon RSS', value: (r) => r.idle.rss.hub, show: mib },
  { label: 'nats-server RSS', value: (r) => r.idle.rss.nats, show: mib },
  { label: 'agent RSS median', value: (_, d) => d.agentMedianRss, show: mib },
  { label: 'agent RSS max', value: (_, d) => d.agentMaxRss, show: mib },
  { label: 'false lost (idle)', value: (r) => r.idle.falseLost.length, show: String },
  { label: 'cut → out of routes', value: (r) => r.loss?.outMs ?? Number.NaN, show: (v) => secs(v) },
  { label: 'link back → routed', value: (r) => r.loss?.backMs ?? Number.NaN, show: (v) => secs(v) },
  { label: 'link back → ready', value: (r) => r.loss?.readyMs ?? Number.NaN, show: (v) => secs(v) },
];

/** Growth per doubling of N from `a` to `b`: (value ratio)^(1 / log2(N ratio)). */
function perDoubling(a: ScaleResult, va: number, b: ScaleResult, vb: number): string {
  if (!(va > 0) || !(vb >= 0)) return '—';
  return `${fmt((vb / va) ** (1 / Math.log2(b.n / a.n)))}×`;
}

function printSummary(results: ScaleResult[], failed: Map<number, string>): void {
  const derived = results.map(derive);
  console.log('\nsummary (idle figures over the idle window; CPU in % of one core)');
  console.log(
    table([
      ['N', ...results.map((r) => String(r.n))],
      ...FIGURES.map((figure) => [
        figure.label,
        ...results.map((r, i) => figure.show(figure.value(r, derived[i]!))),
      ]),
    ]),
  );
  if (results.length >= 2) {
    const pairs = results.slice(1).map((r, i) => [results[i]!, r] as const);
    const first = results[0]!;
    const last = results.at(-1)!;
    console.log(
      '\ngrowth per doubling of N ((figure at N2 / figure at N1)^(1/log2(N2/N1)); 1× = constant, 2× = linear)',
    );
    console.log(
      table([
        [
          '',
          ...pairs.map(([a, b]) => `${a.n}→${b.n}`),
          ...(pairs.length > 1 ? [`${first.n}→${last.n}`] : []),
        ],
        ...FIGURES.map((figure) => [
          figure.label,
          ...pairs.map(([a, b]) =>
            perDoubling(a, figure.value(a, derive(a)), b, figure.value(b, derive(b))),
          ),
          ...(pairs.length > 1
            ? [
                perDoubling(
                  first,
                  figure.value(first, derived[0]!),
                  last,
                  figure.value(last, derived.at(-1)!),
                ),
              ]
            : []),
        ]),
      ]),
    );
  }
  for (const [n, why] of failed) console.log(`N = ${n} FAILED: ${why}`);
}

// ---- goals ----------------------------------------------------------------------------------

/** Per-node figures that must not grow with N, and the noise below which a change is none. */
const PER_NODE: {
  label: string;
  value: (d: Derived) => number;
  noise: number;
  show: (value: number) => string;
}[] = [
  { label: 'node→hub msg/s per node', value: (d) => d.inPerNodePerS, noise: 0.02, show: fmt },
  { label: 'node→hub B/s per node', value: (d) => d.inBytesPerNodePerS, noise: 5, show: fmt },
  { label: 'hub→node B/s per node', value: (d) => d.outBytesPerNodePerS, noise: 5, show: fmt },
  { label: 'hub + nats CPU per node', value: (d) => d.hubNatsPerNodePct, noise: 0.05, show: pct },
  {
    label: 'hub + nats + agents CPU per node',
    value: (d) => d.controlPlanePct / d.nodes,
    noise: 0.1,
    show: pct,
  },
  { label: 'agent CPU median', value: (d) => d.agentMedianPct, noise: 0.1, show: pct },
  { label: 'agent RSS median', value: (d) => d.agentMedianRss, noise: 8 * MIB, show: mib },
];
const CONSTANT_GROWTH = 1.25;

function printGoals(results: ScaleResult[], options: Options): void {
  const line = (ok: boolean | undefined, text: string) =>
    console.log(`${ok === undefined ? 'N/A ' : ok ? 'PASS' : 'FAIL'}: ${text}`);
  const at = (n: number) => results.find((result) => result.n === n);
  const each = (text: (r: ScaleResult, d: Derived) => string) =>
    results.map((r) => text(r, derive(r))).join(', ');
  console.log('\ngoals (issue 11)');
  if (results.length === 0) return line(undefined, 'no N completed');

  // A window holds one message per node more or less than its length says (its ends fall
  // between two heartbeats): that much above 1 per second is still 1 per second.
  line(
    results.every((r) => derive(r).inPerNodePerS <= 1 + 1 / r.idle.seconds),
    `idle bus writes (node → hub) ≤ 1 per node per second (+ 1 message per node per window): ${each((r, d) => `N=${r.n} ${fmt(d.inPerNodePerS)}`)}`,
  );
  for (const [n, goal] of [
    [2, 2],
    [12, 5],
  ] as const) {
    const r = at(n);
    line(
      r && derive(r).hubNatsPct <= goal,
      `hub daemon (with the hub node's agent) + nats-server ≤ ${goal} % of one core at N = ${n}: ${r ? pct(derive(r).hubNatsPct) : 'not run'}`,
    );
  }
  if (results.length < 2) line(undefined, 'per-node idle cost constant in N: needs two N');
  else {
    const first = results[0]!;
    const last = results.at(-1)!;
    const growing = PER_NODE.map((figure) => {
      const a = figure.value(derive(first));
      const b = figure.value(derive(last));
      const growth = a > 0 ? (b / a) ** (1 / Math.log2(last.n / first.n)) : Number.NaN;
      const ok = b - a <= figure.noise || growth <= CONSTANT_GROWTH;
      return { ...figure, a, b, growth, ok };
    });
    line(
      growing.every((figure) => figure.ok),
      `per-node idle cost constant in N (from N=${first.n} to N=${last.n}, each per-node figure grows ≤ ${CONSTANT_GROWTH}× per doubling, or by less than its noise): ${growing
        .map(
          (f) =>
            `${f.label} ${f.show(f.a)} → ${f.show(f.b)} (${Number.isFinite(f.growth) ? `${fmt(f.growth)}×` : '—'}${f.ok ? '' : ' GROWS'})`,
        )
        .join('; ')}`,
    );
  }
  line(
    results.every((r) => r.idle.falseLost.length === 0 && r.idle.nodesDown === 0),
    `0 false "lost" in ${options.idleS} s idle at every N: ${each((r) => `N=${r.n} ${r.idle.falseLost.length} logged, ${r.idle.nodesDown} down in status`)}`,
  );
  line(
    results.every((r) => r.setupLost.length === 0 && (r.loss?.otherLost.length ?? 0) === 0),
    `0 false "lost" during joins, apply, and (other nodes) during a cut: ${each((r) => `N=${r.n} ${r.setupLost.length + (r.loss?.otherLost.length ?? 0)}`)}`,
  );
  line(
    results.every((r) => r.loss !== undefined && r.loss.outMs <= 3_000),
    `a cut node out of the routes ≤ 3 s at every N: ${each((r) => `N=${r.n} ${secs(r.loss?.outMs)}`)}`,
  );
  const twelve = at(12);
  line(
    twelve && twelve.applyMs <= 10_000,
    `apply → ready at N = 12 ≤ 10 s: ${twelve ? secs(twelve.applyMs) : 'not run'}`,
  );
  line(
    results.every((r) => derive(r).joinMaxMs <= 3_000),
    `join ≤ 3 s each: slowest ${each((r, d) => `N=${r.n} ${secs(d.joinMaxMs)}`)}`,
  );
}

// ---- main -----------------------------------------------------------------------------------

async function main(): Promise<void> {
  // Cleanups after a signal skip the graceful `down` (the agents got the signal too).
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.on(signal, () => {
      interrupted = true;
    });
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench/cluster-scale: ${error.message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  console.log(await machineLine('cluster-scale'));
  console.log(
    `N = ${options.nodes.join(', ')}; ${options.perNode} services per node; settle ${options.settleS} s, idle ${options.idleS} s, outage ${options.outageS} s; expected about ${Math.round(expectedSeconds(options) / 60)} min`,
  );
  const started = performance.now();
  const results: ScaleResult[] = [];
  const failed = new Map<number, string>();
  for (const n of options.nodes) {
    // After Ctrl-C the cleanups run and end the process: start nothing new meanwhile.
    if (interrupted) return;
    console.log(`\n== N = ${n} ==`);
    try {
      const result = await runScale(n, options);
      results.push(result);
      printResult(result);
    } catch (error) {
      const message = (error as Error).message;
      failed.set(n, message.split('\n')[0]!);
      console.error(`N = ${n} failed: ${message}`);
      process.exitCode = 1;
    }
  }
  if (interrupted) return;
  printSummary(results, failed);
  printGoals(results, options);
  console.log(`\nthe whole run took ${fmt((performance.now() - started) / 60_000)} min`);
}

runBench(main);
