// `down` on a two-node cluster in the lab leaves the mesh interface and firewall table up and
// says so; `flotilla node leave` on the node removes both, for real (ip link, nft inside the
// node's namespace), refuses while the stack is up, and has nothing left on a second run.
// `node doctor` runs on the node while it is up.
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../helpers/lab-cluster.ts';

const isRoot = process.getuid?.() === 0;
const STACK = `name: leavelab
mesh: { provider: wireguard, cidr: 100.96.0.0/16, port: 51820 }
nodes:
  gw: { address: 203.0.113.11 }
  app: { address: 203.0.113.12 }
services:
  echo:
    node: gw
    run: { command: [node, ./echo.js] }
    ports: { http: 8080 }
    env: { PORT: '\${port}' }
`;

describe.skipIf(!isRoot)('down, then node leave, on a lab node', { timeout: 120_000 }, () => {
  let cluster: LabCluster;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'flotilla-node-leave-'));
    await copyFile(path.resolve('test/cluster/fixtures/echo.js'), path.join(work, 'echo.js'));
    await writeFile(path.join(work, 'flotilla.yml'), STACK);
    cluster = await LabCluster.start({
      stackFile: path.join(work, 'flotilla.yml'),
      nodes: ['gw', 'app'],
    });
    await cluster.until((report) => report.ready, 60_000);
  }, 120_000);

  afterAll(async () => {
    await cluster?.close();
    await rm(work, { recursive: true, force: true });
  }, 120_000);

  const link = (node = 'gw') => cluster.exec(node, ['ip', 'link', 'show', `flo-${node}`]);
  const tables = async (node = 'gw') =>
    (await cluster.exec(node, ['nft', 'list', 'tables'])).stdout;
  /** The CLI on the agent node `app`, for its own state dir. */
  const onApp = (args: string[]) =>
    cluster.exec('app', [
      process.execPath,
      path.resolve('bin/flotilla.js'),
      ...args,
      '--state-dir',
      cluster.stateDir('app'),
    ]);

  it('node doctor finds the running node healthy: ports Flotilla’s, firewall, mesh', async () => {
    const doctor = await cluster.hubCli(['node', 'doctor']);
    // echo listens on 8080 (the service's port): held by Flotilla, not a conflict.
    expect((await cluster.exec('gw', ['ss', '-Htln'])).stdout).toMatch(/:8080\s/);
    expect(doctor.stdout).toMatch(/^ok +ports +1 port free or Flotilla's$/m);
    expect(doctor.stdout).toMatch(/^ok +firewall +table inet flotilla loaded$/m);
    expect(doctor.stdout).toMatch(/^ok +mesh +flo-gw up, 1 peer\(s\) with a recent handshake$/m);
    expect(doctor.stdout).toMatch(/^skip +clock +this node runs the hub$/m);
    expect(doctor.code).toBe(0);
    // On the agent node: the hub's clock is read over the network.
    const agent = await onApp(['node', 'doctor']);
    expect(agent.stdout).toMatch(/^ok +mesh +flo-app up, 1 peer\(s\) with a recent handshake$/m);
    expect(agent.stdout).toMatch(/^ok +clock +within \d+ s of the hub$/m);
  });

  it('refuses to leave while the stack is up, and says to run down first', async () => {
    const leave = await cluster.hubCli(['node', 'leave']);
    expect(leave.code).toBe(1);
    expect(leave.stderr).toContain('the hub still runs on this node');
    expect(leave.stderr).toContain('flotilla down');
    expect((await link()).code).toBe(0);
  });

  it('down says what it leaves; leave removes it; a second leave finds nothing', async () => {
    const down = await cluster.hubCli(['down'], cluster.stackFile, 90_000);
    expect(down.code).toBe(0);
    expect(down.stdout).toContain('stack leavelab is down');
    expect(down.stdout).toContain('  gw: mesh interface flo-gw, firewall table inet flotilla\n');
    expect(down.stdout).toContain(`flotilla node leave --state-dir ${cluster.stateDir('gw')}`);
    expect(down.stdout).toContain('  app: mesh interface flo-app, firewall table inet flotilla\n');
    expect(down.stdout).toContain(`flotilla node leave --state-dir ${cluster.stateDir('app')}`);
    expect((await link()).code).toBe(0);
    expect(await tables()).toContain('table inet flotilla');

    const leave = await cluster.hubCli(['node', 'leave']);
    expect(leave.stderr).toBe('');
    expect(leave.code).toBe(0);
    expect(leave.stdout).toContain('removed mesh interface flo-gw');
    expect(leave.stdout).toContain('removed firewall table inet flotilla');
    expect((await link()).code).not.toBe(0);
    expect(await tables()).not.toContain('table inet flotilla');

    const again = await cluster.hubCli(['node', 'leave']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing left');

    // The agent node, by its state dir: its interface from its membership.
    const app = await onApp(['node', 'leave']);
    expect(app.code, app.stderr).toBe(0);
    expect(app.stdout).toContain('removed mesh interface flo-app');
    expect(app.stdout).toContain('removed firewall table inet flotilla');
    expect((await link('app')).code).not.toBe(0);
    expect(await tables('app')).not.toContain('table inet flotilla');
  });
});
