// A three-node stack in the lab, for real: WireGuard mesh (wireguard-go), nftables in every
// node's namespace, the bus over the mesh, Caddy on the gateway routing to other nodes, and
// failures — an agent killed, a link cut, the hub killed, a node removed. Needs root.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/system/proc.ts';
import { openWith } from '../../src/secrets/store.ts';
import type { StatusReport } from '../../src/hub/status-report.ts';
import { LabCluster } from '../helpers/lab-cluster.ts';

const isRoot = process.getuid?.() === 0;
const FIXTURES = path.resolve('test/cluster/fixtures');
const MESH = { gw: '100.96.0.1', app: '100.96.0.2', store: '100.96.0.3' };
// Unique markers: found anywhere they should not be, they are a leak.
const SECRETS = {
  API_KEY: `api-key-${randomBytes(6).toString('hex')}`,
  DB_PASSWORD: `db-password-${randomBytes(6).toString('hex')}`,
  RESTIC_PASSWORD: `restic-password-${randomBytes(6).toString('hex')}`,
};

function pids(report: StatusReport): Record<string, number | undefined> {
  return Object.fromEntries(report.instances.map((instance) => [instance.id, instance.pid]));
}

const routed = (report: StatusReport, service: string) =>
  report.routes.find((route) => route.service === service)?.healthy ?? 0;

describe.skipIf(!isRoot)('a stack across three lab nodes', { timeout: 120_000 }, () => {
  let cluster: LabCluster;
  let ready: StatusReport;
  let work: string;

  beforeAll(async () => {
    // cluster.yml plus a backup job of db's node, its repository and data in a temp dir. Every
    // 20 s, not more often: a run every 5 s piled up ~50 snapshots over the file on a busy
    // machine, and `down` lets a running backup finish first.
    work = await mkdtemp(path.join(tmpdir(), 'flotilla-cluster-stack-'));
    await copyFile(path.join(FIXTURES, 'echo.js'), path.join(work, 'echo.js'));
    await mkdir(path.join(work, 'notes'));
    await writeFile(path.join(work, 'notes', 'a.txt'), 'saved on the storage node\n');
    const stack = `${await readFile(path.join(FIXTURES, 'cluster.yml'), 'utf8')}
backups:
  targets:
    local: { repository: ${path.join(work, 'repo')}, password: '\${secret:RESTIC_PASSWORD}' }
  jobs:
    notes:
      service: db
      kind: files
      paths: [${path.join(work, 'notes')}]
      schedule: '*/20 * * * * *'
      to: local
`;
    await writeFile(path.join(work, 'cluster.yml'), stack);
    cluster = await LabCluster.start({
      stackFile: path.join(work, 'cluster.yml'),
      nodes: ['gw', 'app', 'store'],
      secrets: SECRETS,
    });
    ready = await cluster.until((report) => report.ready, 60_000);
  }, 120_000);

  afterAll(async () => {
    await cluster?.close();
    await rm(work, { recursive: true, force: true });
  }, 120_000);

  it('joins every node: the hub lists them and each instance runs where plan put it', async () => {
    const nodes = JSON.parse((await cluster.hubCli(['node', 'ls', '--json'])).stdout) as {
      node: string;
    }[];
    expect(nodes.map((node) => node.node)).toEqual(['app', 'gw', 'store']);
    const where = Object.fromEntries(ready.instances.map((i) => [i.id, i.node]));
    expect(where).toEqual({
      'web-1': 'app',
      'web-2': 'store',
      'db-1': 'store',
      'api-1': 'app',
      'tools-1': 'gw',
    });
    // Each node's WireGuard interface has exactly the other two as peers.
    const peers = await cluster.exec('app', ['wg', 'show', 'flo-app', 'allowed-ips']);
    expect(peers.stdout).toContain(`${MESH.gw}/32`);
    expect(peers.stdout).toContain(`${MESH.store}/32`);
    expect(peers.stdout.trim().split('\n')).toHaveLength(2);
  });

  it('routes from the internet through the gateway to replicas on two other nodes', async () => {
    const answers = new Set<string>();
    for (let request = 0; request < 12; request++) {
      const result = await cluster.viaGateway('web.lab.test');
      expect(result.code).toBe(0);
      const body = JSON.parse(result.stdout) as { instance: string; node: string };
      answers.add(`${body.instance}@${body.node}`);
    }
    expect([...answers].sort()).toEqual(['web-1@app', 'web-2@store']);
  });

  it('resolves ${db.address} to the storage node over the mesh', async () => {
    const result = await cluster.viaGateway('api.lab.test');
    expect(JSON.parse(result.stdout)).toEqual({
      instance: 'api-1',
      node: 'app',
      upstream: { instance: 'db-1', node: 'store' },
    });
  });

  it("keeps service names in each node's own hosts file, and only what its services reach", async () => {
    const app = await cluster.exec('app', [
      'getent',
      '-s',
      'files',
      'hosts',
      'db.labcluster.internal',
    ]);
    expect(app.stdout).toMatch(new RegExp(`^${MESH.store.replaceAll('.', '\\.')}\\s+db\\b`));
    // gw runs nothing that may reach db: no entry for it there.
    expect(
      (await cluster.exec('gw', ['getent', '-s', 'files', 'hosts', 'db.labcluster.internal'])).code,
    ).not.toBe(0);
    // The machine's own /etc/hosts is not a lab node's.
    expect(await readFile('/etc/hosts', 'utf8')).not.toContain('labcluster');
  });

  it('firewalls every node: a storage port answers only the allowed node, over the mesh', async () => {
    const store = cluster.labNode('store').address;
    expect(await cluster.connects('app', MESH.store, 5433)).toBe(true);
    // gw runs no service of db's segment; the internet is never allowed.
    expect(await cluster.connects('gw', MESH.store, 5433)).toBe(false);
    expect(await cluster.connects('internet', store, 5433)).toBe(false);
    // Not even the node that may use it, on the public link instead of the mesh.
    expect(await cluster.connects('app', store, 5433)).toBe(false);
    // Web replicas answer the gateway over the mesh, not the internet.
    expect(await cluster.connects('gw', MESH.store, 8080)).toBe(true);
    expect(await cluster.connects('internet', store, 8080)).toBe(false);
    // On the hub: the bus only over the mesh, the join port and the gateway publicly.
    const hub = cluster.labNode('gw').address;
    expect(await cluster.connects('internet', hub, 4222)).toBe(false);
    expect(await cluster.connects('internet', hub, 4280)).toBe(true);
    expect(await cluster.connects('internet', hub, 443)).toBe(true);
  });

  it("gives a node's bus credentials no access to the hub's records, its own included", async () => {
    const membership = path.join(cluster.stateDir('app'), 'agent', 'membership.json');
    const script = path.resolve('test/cluster/fixtures/read-record.ts');
    for (const node of ['app', 'store']) {
      const result = await cluster.exec('app', [
        process.execPath,
        '--import',
        'tsx',
        script,
        membership,
        node,
      ]);
      const read = JSON.parse(result.stdout) as { ok: boolean; error?: string };
      expect(read.ok, node).toBe(false);
      expect(read.error, node).toMatch(/permission/i);
    }
  });

  it('delivers each secret only to the node that runs its service, sealed to that node', async () => {
    const environ = async (id: string) => {
      const pid = ready.instances.find((instance) => instance.id === id)!.pid!;
      return readFile(`/proc/${pid}/environ`, 'utf8');
    };
    expect(await environ('api-1')).toContain(`API_KEY=${SECRETS.API_KEY}`);
    expect(await environ('api-1')).not.toContain(SECRETS.DB_PASSWORD);
    expect(await environ('db-1')).toContain(`DB_PASSWORD=${SECRETS.DB_PASSWORD}`);
    expect(await environ('db-1')).not.toContain(SECRETS.API_KEY);
    for (const id of ['web-1', 'web-2', 'tools-1']) {
      expect(await environ(id)).not.toContain(SECRETS.API_KEY);
      expect(await environ(id)).not.toContain(SECRETS.DB_PASSWORD);
    }
    // What each node was sent (its agent keeps it as signed): only its own services'
    // secrets, and only sealed.
    const desiredOf = async (node: string) => {
      const saved = JSON.parse(
        await readFile(path.join(cluster.stateDir(node), 'agent', 'hub-state.json'), 'utf8'),
      ) as { desired: { payload: string } };
      return (JSON.parse(saved.desired.payload) as { body: { secrets: Record<string, string> } })
        .body;
    };
    const app = await desiredOf('app');
    const store = await desiredOf('store');
    expect(Object.keys(app.secrets)).toEqual(['API_KEY']);
    expect(Object.keys(store.secrets)).toEqual(['DB_PASSWORD']);
    for (const marker of Object.values(SECRETS)) {
      expect(JSON.stringify(app)).not.toContain(marker);
      expect(JSON.stringify(store)).not.toContain(marker);
    }
    // Sealed to store's key: store opens it, app's key does not.
    const identity = async (node: string) =>
      (await readFile(path.join(cluster.stateDir(node), 'agent', 'identity'), 'utf8')).trim();
    expect(await openWith(await identity('store'), store.secrets.DB_PASSWORD!)).toBe(
      SECRETS.DB_PASSWORD,
    );
    await expect(openWith(await identity('app'), store.secrets.DB_PASSWORD!)).rejects.toThrow();
    // Nor does the bus keep a value in clear: grep the hub's JetStream store.
    const files = await readdir(path.join(cluster.stateDir('gw'), 'bus'), { recursive: true });
    for (const file of files) {
      const bytes = await readFile(path.join(cluster.stateDir('gw'), 'bus', file)).catch(
        () => undefined,
      );
      if (!bytes) continue;
      for (const marker of Object.values(SECRETS)) expect(bytes.includes(marker)).toBe(false);
    }
  });

  it("keeps a service's data under its own node's state dir, not the hub's", async () => {
    const pid = ready.instances.find((instance) => instance.id === 'db-1')!.pid!;
    const dataDir = path.join(cluster.stateDir('store'), 'data', 'db');
    expect(await readFile(`/proc/${pid}/environ`, 'utf8')).toContain(`DATA=${dataDir}\0`);
    expect((await stat(dataDir)).isDirectory()).toBe(true);
    await expect(stat(path.join(cluster.stateDir('gw'), 'data', 'db'))).rejects.toThrow();
  });

  it("runs a backup job on the node where its service's data lives", async () => {
    const record = (node: string) => path.join(cluster.stateDir(node), 'backups', 'notes.json');
    // The first scheduled run: within 20 s, plus what a busy machine adds.
    for (let wait = 0; wait < 300; wait++) {
      if (await readFile(record('store'), 'utf8').catch(() => undefined)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await readFile(record('store'), 'utf8')).toContain('"bytes_added"');
    await expect(readFile(record('gw'), 'utf8')).rejects.toThrow();
    const list = await cluster.hubCli(['backup', 'list', 'notes', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as unknown[]).length).toBeGreaterThan(0);
    // Run now from the hub: the hub asks store's agent, where the data is.
    const now = await cluster.hubCli(['backup', 'run', 'notes']);
    expect(now.code, now.stderr).toBe(0);
    expect(now.stdout).toMatch(/notes/);
    const verified = await cluster.hubCli(['backup', 'verify', 'notes']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(await readFile(record('store'), 'utf8')).toMatch(/"ok":\s*true/);
    // The job, with its repository password, reached only store, and only sealed.
    expect(
      await readFile(path.join(cluster.stateDir('app'), 'agent', 'hub-state.json'), 'utf8'),
    ).not.toContain('notes');
  });

  it('rejects a used token and a forged one, naming the problem', async () => {
    const opaque = await cluster.exec('internet', [
      'curl',
      '-s',
      '--max-time',
      '3',
      `http://${cluster.labNode('gw').address}:4280/v1/join`,
      '-d',
      '{"sealed":"not age"}',
    ]);
    expect(opaque.stdout).toMatch(/could not be opened/);
    // Another machine with new keys replays store's used token: a takeover attempt.
    const intruder = (extra: string[]) =>
      cluster.exec('app', [
        process.execPath,
        path.resolve('bin/flotilla.js'),
        'agent',
        '--state-dir',
        path.join(cluster.dir, 'intruder'),
        ...extra,
      ]);
    const replay = await intruder(['--join', cluster.usedTokens.get('store')!, '--node', 'store']);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toMatch(/already used/);
    const garbage = await intruder(['--join', 'flt1_nope.nope']);
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toMatch(/not a Flotilla join token/);
    const notJoined = await intruder([]);
    expect(notJoined.code).toBe(1);
    expect(notJoined.stderr).toMatch(/has not joined a hub yet/);
    // store is still the member it was.
    expect((await cluster.status()).nodes.store!.up).toBe(true);
  });

  it('takes a node whose agent died out of the routes within seconds, and back (joining again) without duplicates', async () => {
    const before = pids(await cluster.status());
    const killedAt = Date.now();
    await cluster.killAgent('store');
    const lost = await cluster.until((report) => !report.nodes.store!.up, 15_000);
    const lostAfter = Date.now() - killedAt;
    expect(routed(lost, 'web')).toBe(1);
    expect(lostAfter).toBeLessThan(8_000);
    expect((await cluster.hubCli(['status'])).stdout).toMatch(/Nodes: .*store lost \(last report/);
    // web-1 on app keeps serving.
    for (let request = 0; request < 4; request++)
      expect(JSON.parse((await cluster.viaGateway('web.lab.test')).stdout)).toMatchObject({
        node: 'app',
      });
    // The hub's liveness check runs every second; its event and log line follow.
    const logFile = path.join(cluster.stateDir('gw'), 'daemon.log');
    for (let wait = 0; wait < 30; wait++) {
      if ((await readFile(logFile, 'utf8')).includes('node store is lost')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await readFile(logFile, 'utf8')).toMatch(
      /node store is lost: no report since \d{4}-\d\d-\d\dT/,
    );

    // Joining again with the same keys (and its used token) is idempotent.
    await cluster.startAgent('store', ['--join', cluster.usedTokens.get('store')!]);
    const back = await cluster.until((report) => report.ready, 20_000);
    expect(pids(back)).toEqual(before);
    expect(back.instances.every((instance) => instance.restarts === 0)).toBe(true);
  });

  it('survives a cut link: the node leaves the routes, and returns when the link does', async () => {
    await cluster.cutLink('store');
    try {
      const lost = await cluster.until((report) => !report.nodes.store!.up, 15_000);
      expect(routed(lost, 'web')).toBe(1);
      expect(JSON.parse((await cluster.viaGateway('web.lab.test')).stdout)).toMatchObject({
        node: 'app',
      });
    } finally {
      await cluster.restoreLink('store');
    }
    const back = await cluster.until((report) => report.ready, 30_000);
    expect(routed(back, 'web')).toBe(2);
  });

  it('keeps serving while the hub is down, and restarts nothing when it returns', async () => {
    const before = pids(await cluster.status());
    const endpoint = JSON.parse(
      await readFile(path.join(cluster.stateDir('gw'), 'hub', 'api.json'), 'utf8'),
    ) as { pid: number };
    process.kill(endpoint.pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const answers = new Set<string>();
    for (let request = 0; request < 8; request++) {
      const result = await cluster.viaGateway('web.lab.test');
      expect(result.code).toBe(0);
      answers.add((JSON.parse(result.stdout) as { node: string }).node);
    }
    expect([...answers].sort()).toEqual(['app', 'store']);

    const again = await cluster.hubCli([
      'hub',
      '--address',
      cluster.labNode('gw').address,
      '--detach',
    ]);
    expect(again.code).toBe(0);
    const back = await cluster.until((report) => report.ready, 30_000);
    expect(pids(back)).toEqual(before);
    expect(back.instances.every((instance) => instance.restarts === 0)).toBe(true);
  });

  it('moves a service: its dependents get the new address', async () => {
    const moved = await cluster.hubCli(['apply'], path.join(FIXTURES, 'cluster-db-moved.yml'));
    expect(moved.code).toBe(0);
    expect(JSON.parse((await cluster.viaGateway('api.lab.test')).stdout)).toMatchObject({
      upstream: { instance: 'db-1', node: 'app' },
    });
    expect(
      (await cluster.exec('app', ['getent', '-s', 'files', 'hosts', 'db.labcluster.internal']))
        .stdout,
    ).toMatch(/^127\.0\.0\.1\s/);
    const back = await cluster.hubCli(['apply']);
    expect(back.code).toBe(0);
    expect(JSON.parse((await cluster.viaGateway('api.lab.test')).stdout)).toMatchObject({
      upstream: { instance: 'db-1', node: 'store' },
    });
    const report = await cluster.until((status) => status.ready, 30_000);
    expect(report.instances.filter((instance) => instance.id === 'db-1')).toHaveLength(1);
  });

  it('removes a node: its services stop and the other nodes drop it as a peer', async () => {
    const storePids = (await cluster.status()).instances
      .filter((instance) => instance.node === 'store')
      .map((instance) => instance.pid!);
    const removed = await cluster.hubCli(['node', 'rm', 'store']);
    expect(removed.code).toBe(0);
    for (const pid of storePids) expect(isAlive(pid)).toBe(false);
    // The agents apply the new peer set as their desired states arrive.
    let peers = '';
    for (let wait = 0; wait < 50; wait++) {
      peers = (await cluster.exec('app', ['wg', 'show', 'flo-app', 'allowed-ips'])).stdout;
      if (!peers.includes(MESH.store)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(peers).not.toContain(MESH.store);
    expect(peers).toContain(MESH.gw);
    const nodes = JSON.parse((await cluster.hubCli(['node', 'ls', '--json'])).stdout) as {
      node: string;
    }[];
    expect(nodes.map((node) => node.node)).toEqual(['app', 'gw']);
    // And it can join again, with a new token.
    await cluster.join('store');
    await cluster.until((report) => report.ready, 30_000);
  });

  it('stops every service on every node with down', async () => {
    const all = (await cluster.status()).instances.map((instance) => instance.pid!);
    // A bound, not a measurement: three agents stop their services in turn on a busy machine.
    const down = await cluster.hubCli(['down'], cluster.stackFile, 90_000);
    expect(down.code).toBe(0);
    for (const pid of all) expect(isAlive(pid)).toBe(false);
    // The agents exit once they have answered (a running backup is let finish first).
    const exited = async (node: string) => {
      for (let wait = 0; wait < 50 && cluster.agentPid(node) !== undefined; wait++)
        await new Promise((resolve) => setTimeout(resolve, 200));
      return cluster.agentPid(node) === undefined;
    };
    for (const node of ['app', 'store']) expect(await exited(node)).toBe(true);
  });
});
