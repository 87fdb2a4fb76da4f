// Monitoring across three lab nodes, for real: the hub derives a monitor for each node, its
// disk, each mesh pair (ICMP over WireGuard, measured by the first node's agent) and the
// instance on a node of its own; a declared TCP monitor with `from: app` runs on app's agent
// (the signed monitor.check) and reaches what only app reaches, while the same check from
// the hub is refused by app's firewall. Then app goes dark (its agent killed by its PID, its
// link cut): node:app and mesh:gw/app go down, the pair app measures is no longer judged,
// and a webhook in the lab's internet gets one down alert for node:app, then one up when
// app is back. One lab for the whole file. Needs root.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MonitorView } from '../../src/hub/monitoring/monitoring-service.ts';
import { LabCluster } from '../helpers/lab-cluster.ts';

const isRoot = process.getuid?.() === 0;
const FIXTURES = path.resolve('test/cluster/fixtures');
const MESH = { gw: '100.96.0.1', app: '100.96.0.2', ops: '100.96.0.3' };
const SVC_PORT = 8080;

const STACK = `name: labmonitor
mesh: { provider: wireguard, cidr: 100.96.0.0/16, port: 51820 }
nodes:
  gw: { address: 203.0.113.11, gateway: true }
  app: { address: 203.0.113.12 }
  ops: { address: 203.0.113.13 }
services:
  svc:
    node: app
    run: { command: [node, ./echo.js] }
    ports: { http: ${SVC_PORT} }
    env: { PORT: '\${port}' }
    health: { http: { path: /health } }
monitors:
  # svc has no consumers: its port on app's mesh address answers app alone.
  svc-from-app: { tcp: { host: ${MESH.app}, port: ${SVC_PORT} }, from: app, timeout: 1s }
  svc-from-hub: { tcp: { host: ${MESH.app}, port: ${SVC_PORT} }, timeout: 1s }
monitoring: { interval: 1s, retries: 1 }
`;

/** A webhook receiver: prints its port, then each request body on a line of its own. */
const RECEIVER = `const [host] = process.argv.slice(1);
const server = require('node:http').createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => (body += chunk));
  request.on('end', () => {
    process.stdout.write(JSON.stringify(JSON.parse(body)) + '\\n');
    response.end();
  });
});
server.listen(0, host, () => process.stdout.write('port ' + server.address().port + '\\n'));`;

interface Alert {
  kind: string;
  monitor: string | null;
  what: string;
}

describe.skipIf(!isRoot)('monitoring across three lab nodes', { timeout: 180_000 }, () => {
  let cluster: LabCluster;
  let work: string;
  let receiver: ChildProcess | undefined;
  const alerts: Alert[] = [];

  /** Starts the receiver in the lab's internet namespace; resolves with its URL. */
  async function startReceiver(): Promise<string> {
    const host = cluster.lab.internetAddress;
    const child = spawn(
      'ip',
      ['netns', 'exec', cluster.lab.internetNamespace, process.execPath, '-e', RECEIVER, host],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    receiver = child;
    let pending = '';
    return new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the receiver exited (${code})`)));
      child.stdout!.on('data', (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop()!;
        for (const line of lines) {
          const port = /^port (\d+)$/.exec(line)?.[1];
          if (port !== undefined) resolve(`http://${host}:${port}/hook`);
          else alerts.push(JSON.parse(line) as Alert);
        }
      });
    });
  }

  async function monitors(): Promise<Map<string, MonitorView>> {
    const result = await cluster.hubCli(['monitors', '--json']);
    if (result.code !== 0) throw new Error(`monitors failed: ${result.stderr}`);
    const listed = JSON.parse(result.stdout) as MonitorView[];
    return new Map(listed.map((monitor) => [monitor.name, monitor]));
  }

  /** Polls `flotilla monitors --json` until `check` passes; throws with the last listing. */
  async function monitorsUntil(
    check: (listed: Map<string, MonitorView>) => boolean,
    timeoutMs: number,
  ): Promise<Map<string, MonitorView>> {
    const deadline = Date.now() + timeoutMs;
    let last = new Map<string, MonitorView>();
    while (Date.now() < deadline) {
      last = await monitors();
      if (check(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`monitors not as expected: ${JSON.stringify([...last.values()], null, 1)}`);
  }

  const allUp = (listed: Map<string, MonitorView>, names: string[]) =>
    names.every((name) => listed.get(name)?.status === 'up');

  async function alertsUntil(check: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`alerts so far: ${JSON.stringify(alerts)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Alerts before this index came while the cluster was settling (a pair coming up late). */
  let settled = 0;
  const kinds = (monitor: string) =>
    alerts
      .slice(settled)
      .filter((alert) => alert.monitor === monitor)
      .map((alert) => alert.kind);

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'flotilla-cluster-monitoring-'));
    await copyFile(path.join(FIXTURES, 'echo.js'), path.join(work, 'echo.js'));
    const stackFile = path.join(work, 'flotilla.yml');
    await writeFile(stackFile, STACK);
    cluster = await LabCluster.start({ stackFile, nodes: ['gw', 'app', 'ops'], joinNodes: false });
    // Both at once; both settle before a failure is thrown, so afterAll stops every agent.
    const joins = await Promise.allSettled([cluster.join('app'), cluster.join('ops')]);
    for (const join of joins) if (join.status === 'rejected') throw join.reason;
    await cluster.until((report) => report.ready, 90_000);
    // The receiver's port is known once it listens in the lab: the alert channel comes after.
    const hook = await startReceiver();
    await writeFile(stackFile, `${STACK}alerts:\n  - webhook: { url: '${hook}' }\n`);
    const applied = await cluster.hubCli(['apply']);
    if (applied.code !== 0) throw new Error(`apply failed: ${applied.stderr}`);
  }, 180_000);

  afterAll(async () => {
    receiver?.kill();
    await cluster?.close();
    await rm(work, { recursive: true, force: true });
  }, 120_000);

  const NODES = ['node:gw', 'node:app', 'node:ops'];
  const DISKS = ['disk:gw', 'disk:app', 'disk:ops'];
  const PAIRS = ['mesh:gw/app', 'mesh:gw/ops', 'mesh:app/ops'];

  it('derives node, disk, mesh and instance monitors, and each goes up', async () => {
    // Mesh pairs wait for each agent's first metrics with its peers (every 15 s).
    const listed = await monitorsUntil(
      (each) => allUp(each, [...NODES, ...DISKS, ...PAIRS, 'instance:svc-1']),
      40_000,
    );
    for (const pair of PAIRS) {
      const monitor = listed.get(pair)!;
      expect(monitor.kind).toBe('mesh');
      expect(monitor.latencyMs, pair).toBeGreaterThan(0);
      expect(monitor.detail).toMatch(/^\d+\.\d ms round trip$/);
    }
    expect(listed.get('instance:svc-1')).toMatchObject({ node: 'app', service: 'svc' });
    expect(listed.get('disk:app')!.detail).toMatch(/^disk \d+\.\d % full \(alert above 90 %\)$/);
    expect(
      [...listed.keys()].filter((name) => /^(node|disk|mesh|instance):/.test(name)).sort(),
    ).toEqual([...DISKS, 'instance:svc-1', ...PAIRS, ...NODES].sort());
  });

  it('runs a check with `from` on that node: what only app reaches is up from app, down from the hub', async () => {
    const listed = await monitorsUntil(
      (each) =>
        each.get('svc-from-app')?.status === 'up' && each.get('svc-from-hub')?.status === 'down',
      20_000,
    );
    expect(listed.get('svc-from-app')).toMatchObject({ kind: 'tcp', node: 'app' });
    expect(listed.get('svc-from-hub')!.node).toBeUndefined();
    // Down because app's firewall drops the hub node, not because nothing listens.
    expect(await cluster.connects('gw', MESH.app, SVC_PORT)).toBe(false);
    expect(await cluster.connects('app', MESH.app, SVC_PORT)).toBe(true);
  });

  it('alerts once when a node goes dark: node and the pair measured toward it down, the pair it measures unjudged', async () => {
    expect(cluster.agentPid('app')).toBeGreaterThan(0);
    settled = alerts.length;
    await cluster.killAgent('app');
    await cluster.cutLink('app');
    const lost = await monitorsUntil((each) => each.get('node:app')?.status === 'down', 20_000);
    expect(lost.get('node:app')!.detail).toMatch(/^no report since \d{4}-\d\d-\d\dT[\d:.]+Z$/);
    // gw's next metrics (every 15 s) find app's mesh address silent.
    const cut = await monitorsUntil((each) => each.get('mesh:gw/app')?.status === 'down', 30_000);
    expect(cut.get('mesh:gw/app')!.detail).toMatch(/^app unreachable from gw: /);
    // Measured by app, which says nothing now: left as last judged, not checked again.
    for (const name of ['mesh:app/ops', 'instance:svc-1']) {
      expect(cut.get(name)!.status, name).toBe('up');
      expect(cut.get(name)!.checkedAt, name).toBe(lost.get(name)!.checkedAt);
    }
    expect(cut.get('mesh:gw/ops')!.status).toBe('up');
    await alertsUntil(() => kinds('node:app').includes('down'), 15_000);

    // Back: its link and its agent (the instance it left running is still its own).
    await cluster.restoreLink('app');
    await cluster.startAgent('app', ['--join', cluster.usedTokens.get('app')!]);
    await monitorsUntil((each) => each.get('node:app')?.status === 'up', 20_000);
    await alertsUntil(() => kinds('node:app').includes('up'), 15_000);
    expect(kinds('node:app')).toEqual(['down', 'up']);
    // Its up waits for gw's next metrics; its down came once.
    expect(kinds('mesh:gw/app').filter((kind) => kind === 'down')).toEqual(['down']);
    expect(kinds('mesh:app/ops')).toEqual([]);
  });
});
