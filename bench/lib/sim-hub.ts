// The hub side of bench/cluster-sim, in a process of its own so its CPU and memory are
// measured apart from the simulated agents: a real nats-server with the cluster's users and
// permissions (its own child process), and the real Hub with every node a member, as
// `flotilla hub` wires them (src/daemon/daemon.ts), minus the HTTP API and the join port.
// The bench calls it over IPC (rpc-child.ts); it watches the hub's status report from inside,
// so polling costs no IPC and no HTTP.
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { ensureBuckets } from '../../src/bus/buckets.ts';
import { connectBus, type Bus } from '../../src/bus/client.ts';
import { busUsers, ensureCredentials, type Credentials } from '../../src/bus/credentials.ts';
import { HubLink } from '../../src/bus/hub-link.ts';
import { startBusServer, type BusServer } from '../../src/bus/server.ts';
import { Hub, type ClusterView } from '../../src/hub/hub.ts';
import type { Member } from '../../src/hub/members.ts';
import { nodeNetwork } from '../../src/hub/node-network.ts';
import { statusReport } from '../../src/hub/status-report.ts';
import { generateKeyPair } from '../../src/mesh/keys.ts';
import { HubSigningKey } from '../../src/protocol/signing.ts';
import { loadOrCreateIdentity, SecretStore } from '../../src/secrets/store.ts';
import { formatDiagnostic } from '../../src/spec/diagnostic.ts';
import { loadStackFileOffThread, stopLoaderThread } from '../../src/spec/load-off-thread.ts';
import type { Stack } from '../../src/spec/schema.ts';
import { serveRpc } from './rpc-child.ts';

const READY_POLL_MS = 50;
const NODE_POLL_MS = 20;

export interface SimHubStarted {
  busUrl: string;
  natsPid: number;
  hubKey: string;
  stack: string;
  agents: Record<string, Credentials>;
  gateways: string[];
}

export interface HubLogLine {
  at: number;
  line: string;
}

export interface ApplyTimes {
  /** Wall-clock start of the apply (ms since the epoch). */
  startedAt: number;
  /** The stack file loaded and checked, off the hub's thread as `POST /api/v1/apply` does. */
  loadMs: number;
  /** `hub.apply` returned (counted from the start): every desired state and the first routes sent. */
  appliedMs: number;
  /** The status report said ready; undefined if it did not within the timeout. */
  readyMs: number | undefined;
  /** When not ready: how far it got. */
  pending?: string;
}

let server: BusServer | undefined;
let bus: Bus | undefined;
let hub: Hub | undefined;
let stackDir = '';
/** The run's temporary directory: it goes with the hub, even when the bench was killed. */
let runDir: string | undefined;
const log: HubLogLine[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function started(): Hub {
  if (!hub) throw new Error('the hub has not started');
  return hub;
}

/** Polls `probe` every `everyMs` until it is true; the time it was, or undefined at the deadline. */
async function until(
  probe: () => boolean,
  timeoutMs: number,
  everyMs: number,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = Date.now();
    if (probe()) return now;
    if (now > deadline) return undefined;
    await sleep(everyMs);
  }
}

/** Every node a member, with keys of its own, as joins would have made it. */
async function clusterOf(
  dir: string,
  loaded: Stack,
): Promise<{ view: ClusterView; recipients: [string, string][] }> {
  const members: [string, Member][] = [];
  for (const [node, spec] of Object.entries(loaded.nodes)) {
    const { recipient } = await loadOrCreateIdentity(path.join(dir, 'identities', node));
    members.push([
      node,
      {
        wireguard_key: generateKeyPair().publicKey,
        endpoint: spec.address,
        recipient,
        state_dir: path.join(dir, 'nodes', node),
        joined_at: new Date().toISOString(),
      },
    ]);
  }
  return {
    view: {
      joined: () => true,
      stateDirs: () =>
        Object.fromEntries(members.map(([node, member]) => [node, member.state_dir!])),
      network: (current, plan, node) => nodeNetwork(current, plan, members, node),
    },
    recipients: members.map(([node, member]) => [node, member.recipient]),
  };
}

/** The stack file, loaded and checked on the loader thread as the daemon's apply does. */
async function loadStack(file: string): Promise<Stack> {
  const loaded = await loadStackFileOffThread(file);
  if (!loaded.ok) throw new Error(loaded.diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
  return loaded.stack;
}

serveRpc({
  async start(dir: string, stackFile: string): Promise<SimHubStarted> {
    runDir = dir;
    // Off the thread as applies load it: the loader thread (about a second to start) is then
    // warm, as for every apply but a hub's first.
    const stack = await loadStack(stackFile);
    stackDir = path.dirname(stackFile);
    const nodes = Object.keys(stack.nodes);
    const stateDir = path.join(dir, 'hub-state');
    await mkdir(path.join(stateDir, 'hub'), { recursive: true, mode: 0o700 });
    const busDir = path.join(stateDir, 'bus');
    const credentials = await ensureCredentials(busDir, nodes);
    server = await startBusServer({ dir: busDir, users: busUsers(credentials) });
    bus = await connectBus({
      url: server.url,
      ...credentials.hub,
      name: 'hub',
      onError: (error) => log.push({ at: Date.now(), line: `bus: ${String(error)}` }),
    });
    await ensureBuckets(bus);
    const signer = await HubSigningKey.loadOrCreate(path.join(stateDir, 'hub', 'signing.key'));
    const cluster = await clusterOf(dir, stack);
    hub = new Hub({
      bus,
      link: new HubLink(bus.connection, signer),
      secrets: await SecretStore.open(stateDir),
      stateDir,
      log: (line) => log.push({ at: Date.now(), line }),
      cluster: cluster.view,
    });
    hub.start();
    for (const [node, recipient] of cluster.recipients) hub.setNodeRecipient(node, recipient);
    return {
      busUrl: server.url,
      natsPid: server.pid,
      hubKey: signer.publicKey,
      stack: stack.name,
      agents: credentials.agents,
      gateways: nodes.filter((node) => stack.nodes[node]!.gateway),
    };
  },

  /** How many nodes the hub has a report from. */
  reporting(): number {
    return started().nodeStatuses().size;
  },

  /** Applies the stack file as `POST /api/v1/apply` does, and waits until the status report says ready. */
  async apply(stackFile: string, timeoutMs: number): Promise<ApplyTimes> {
    const current = started();
    const startedAt = Date.now();
    const t0 = performance.now();
    const stack = await loadStack(stackFile);
    const loadMs = performance.now() - t0;
    await current.apply({ stack, stackDir });
    const appliedMs = performance.now() - t0;
    const readyAt = await until(
      () => statusReport(current)?.ready === true,
      timeoutMs,
      READY_POLL_MS,
    );
    const times: ApplyTimes = {
      startedAt,
      loadMs,
      appliedMs,
      readyMs: readyAt === undefined ? undefined : readyAt - startedAt,
    };
    if (readyAt === undefined) times.pending = notReady();
    return times;
  },

  traffic(): ReturnType<Hub['busTraffic']> {
    return started().busTraffic();
  },

  /** When the status report first shows `node` up (or down), polled from now on. */
  waitNode(node: string, up: boolean, timeoutMs: number): Promise<number | undefined> {
    const current = started();
    return until(() => statusReport(current)?.nodes[node]?.up === up, timeoutMs, NODE_POLL_MS);
  },

  waitReady(timeoutMs: number): Promise<number | undefined> {
    const current = started();
    return until(() => statusReport(current)?.ready === true, timeoutMs, READY_POLL_MS);
  },

  /** The upstream dials of `node`'s instances in `gateway`'s full route table. */
  nodeDials(gateway: string, node: string): string[] {
    const dials = started()
      .liveRoutes(gateway)
      .flatMap((route) => route.upstreams)
      .filter((upstream) => upstream.node === node)
      .map((upstream) => upstream.dial);
    return [...new Set(dials)].sort();
  },

  /** The hub's log since `since` (ms since the epoch). */
  logSince(since: number): HubLogLine[] {
    return log.filter((entry) => entry.at >= since);
  },

  /** The hub process's memory: what its heap holds against what it keeps from the system. */
  memory(): NodeJS.MemoryUsage {
    return process.memoryUsage();
  },

  async stop(): Promise<void> {
    await stopLoaderThread();
    hub?.stop();
    await bus?.close().catch(() => {});
    await server?.stop();
    if (runDir) await rm(runDir, { recursive: true, force: true });
  },
});

/** What keeps the status report from saying ready, in a line. */
function notReady(): string {
  const report = statusReport(started());
  if (!report) return 'no stack applied';
  const down = Object.entries(report.nodes).filter(([, node]) => !node.up).length;
  const unhealthy = report.instances.filter((instance) => !instance.healthy);
  const gateways = Object.entries(report.gateways).filter(([, gateway]) => !gateway.in_sync);
  const routes = report.routes.filter((route) => route.healthy !== route.total).length;
  const current = started();
  const behind = Object.keys(report.nodes).filter(
    (node) =>
      (current.nodeStatuses().get(node)?.desired_revision ?? 0) < current.desiredRevision(node),
  ).length;
  return [
    `${down} nodes down`,
    `${behind} nodes not converged to their desired revision`,
    `${unhealthy.length} instances not healthy${unhealthy[0] ? ` (e.g. ${unhealthy[0].node}/${unhealthy[0].id}: ${unhealthy[0].state} ${unhealthy[0].reason ?? ''})` : ''}`,
    `${gateways.length} gateways out of sync`,
    `${routes} routes short of upstreams`,
  ].join(', ');
}
