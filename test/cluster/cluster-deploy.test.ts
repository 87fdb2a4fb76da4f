// Deploys across lab nodes, for real: a Node service with a replica on the gateway/hub node
// and one on another node (fixtures/deploy-app.ts), shipped with `flotilla deploy` from the
// hub node's CLI. Every check is a request from a lab namespace: the internet through the
// gateway, the other node to a node's mesh address and the planned port (the port redirect
// in prerouting, across the mesh, through the firewall), and a mesh node with no grant to
// web, and the internet, on the release slot ports (which must not open a hole). A release
// whose health check never passes stops at the gate and leaves the old one serving on both
// nodes; rollback goes back. One lab for the whole file. Needs root.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceReport, StatusReport } from '../../src/hub/status-report.ts';
import { LabCluster } from '../helpers/lab-cluster.ts';
import {
  WEB_HOST,
  WEB_PORT,
  writeAppVersion,
  writeDeployStack,
  type WebAnswer,
} from './fixtures/deploy-app.ts';

const isRoot = process.getuid?.() === 0;
const MESH = { gw: '100.96.0.1', app: '100.96.0.2', ops: '100.96.0.3' };
type WebNode = 'gw' | 'app';
/** Bounds for a deploy over two nodes on a loaded machine, not measurements. */
const DEPLOY_TIMEOUT_MS = 120_000;

describe.skipIf(!isRoot)('deploys across two lab nodes', { timeout: 180_000 }, () => {
  let cluster: LabCluster;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'flotilla-cluster-deploy-'));
    await writeAppVersion(work, 'v1');
    cluster = await LabCluster.start({
      stackFile: await writeDeployStack(work),
      nodes: ['gw', 'app', 'ops'],
      joinNodes: false,
    });
    // Both at once, as two machines may: most of the file's time is the lab's start. Both
    // settle before a failure is thrown, so afterAll stops every agent that started.
    const joins = await Promise.allSettled([cluster.join('app'), cluster.join('ops')]);
    for (const join of joins) if (join.status === 'rejected') throw join.reason;
    await cluster.until((report) => report.ready, 90_000);
  }, 180_000);

  afterAll(async () => {
    await cluster?.close();
    await rm(work, { recursive: true, force: true });
  }, 120_000);

  const deploy = (args: string[]) => cluster.hubCli(args, cluster.stackFile, DEPLOY_TIMEOUT_MS);

  /** web's instances as status reports them, once exactly one per node runs `release`. */
  function onRelease(release: number): Promise<StatusReport> {
    return cluster.until((report) => {
      const web = report.instances.filter((instance) => instance.service === 'web');
      return (
        web.length === 2 &&
        web.every((instance) => instance.release === release && instance.healthy) &&
        report.ready
      );
    }, 60_000);
  }

  /** What 12 requests from the internet through the gateway were answered with. */
  async function throughGateway(): Promise<WebAnswer[]> {
    const answers: WebAnswer[] = [];
    for (let request = 0; request < 12; request++) {
      const result = await cluster.viaGateway(WEB_HOST);
      expect(result.code, result.stderr).toBe(0);
      answers.push(JSON.parse(result.stdout) as WebAnswer);
    }
    return answers;
  }

  /** A GET from `from` to `node`'s mesh address and web's planned port (a client there). */
  async function overMesh(from: WebNode, node: WebNode): Promise<WebAnswer> {
    const result = await cluster.exec(from, [
      'curl',
      '-sf',
      '--max-time',
      '5',
      `http://${MESH[node]}:${WEB_PORT}/`,
    ]);
    expect(result.code, `${from} → ${node}: ${result.stderr}`).toBe(0);
    return JSON.parse(result.stdout) as WebAnswer;
  }

  /** web's instance on `node` in `report`. */
  function webOn(report: StatusReport, node: WebNode): InstanceReport {
    const instance = report.instances.find((each) => each.service === 'web' && each.node === node);
    if (!instance) throw new Error(`no web instance on ${node}: ${JSON.stringify(report)}`);
    return instance;
  }

  /**
   * Asserts every way into web answers `version`, from the instances of `report`: the
   * gateway, and each node's planned port from the other node over the mesh (nothing listens
   * there once deployed: the node's redirect sends it to the release that serves).
   */
  async function expectServing(version: string, report: StatusReport): Promise<void> {
    const answers = await throughGateway();
    expect(new Set(answers.map((answer) => answer.version))).toEqual(new Set([version]));
    expect(new Set(answers.map((answer) => answer.node))).toEqual(new Set(['gw', 'app']));
    expect(await overMesh('gw', 'app')).toEqual({
      version,
      node: 'app',
      instance: webOn(report, 'app').id,
    });
    expect(await overMesh('app', 'gw')).toEqual({
      version,
      node: 'gw',
      instance: webOn(report, 'gw').id,
    });
  }

  /**
   * Asserts `port` of web on each node answers only who has a grant: the other web node over
   * the mesh, not ops (a mesh peer running nothing of web's segment) nor the internet. All at
   * once: each refusal is a drop, which waits out curl's connect timeout.
   */
  async function expectOnlyGranted(port: (node: WebNode) => number): Promise<void> {
    const checks = (['app', 'gw'] as const).flatMap((node) => {
      const other = node === 'app' ? 'gw' : 'app';
      const to = port(node);
      return [
        { label: `${other} → ${node}:${to}`, from: other, address: MESH[node], to, open: true },
        { label: `ops → ${node}:${to}`, from: 'ops', address: MESH[node], to, open: false },
        {
          label: `internet → ${node}:${to}`,
          from: 'internet',
          address: cluster.labNode(node).address,
          to,
          open: false,
        },
      ];
    });
    const results = await Promise.all(
      checks.map(async (check) => ({
        label: check.label,
        open: await cluster.connects(check.from, check.address, check.to),
      })),
    );
    expect(results).toEqual(checks.map(({ label, open }) => ({ label, open })));
  }

  let live: StatusReport;

  it('deploys a new version node by node: every replica on both nodes ends on it', async () => {
    expect(await overMesh('gw', 'app')).toMatchObject({ version: 'v1', instance: 'web-2' });
    await writeAppVersion(work, 'v2');
    const result = await deploy(['deploy', 'web', '-m', 'v2']);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stdout).toMatch(/web: uploaded release 1 /);
    expect(result.stdout).toMatch(/web: release 1 is live \(was not deployed\)/);
    // The gateway node first, then the other one: the second starts once the first serves.
    const lines = result.stdout.split('\n');
    const gwDone = lines.findIndex((line) => /gw: release 1 serves/.test(line));
    const appStart = lines.findIndex((line) => /app: starting web-2a\b/.test(line));
    expect(gwDone, result.stdout).toBeGreaterThan(-1);
    expect(appStart, result.stdout).toBeGreaterThan(gwDone);

    live = await onRelease(1);
    expect(
      live.instances
        .filter((instance) => instance.service === 'web')
        .map((instance) => `${instance.id}@${instance.node}`)
        .sort(),
    ).toEqual(['web-1a@gw', 'web-2a@app']);
    await expectServing('v2', live);
    const releases = await cluster.hubCli(['releases', 'web']);
    expect(releases.stdout).toMatch(/^\s+1 \(live\) .*\n\s+runs on web-1a@gw, web-2a@app$/m);
  });

  it('opens the serving release slot only to who may reach the planned port', async () => {
    // ops and the internet do reach both nodes (ping): what they are refused, the firewall refuses.
    for (const node of ['app', 'gw'] as const) {
      const ping = (from: string, address: string) =>
        cluster.exec(from, ['ping', '-c', '1', '-W', '5', address]);
      expect((await ping('ops', MESH[node])).code, `ops → ${node}`).toBe(0);
      expect((await ping('internet', cluster.labNode(node).address)).code).toBe(0);
    }
    // The planned port (redirected) and the slot port the release listens on.
    await expectOnlyGranted(() => WEB_PORT);
    await expectOnlyGranted((node) => webOn(live, node).ports.http!);
    expect(webOn(live, 'app').ports.http).not.toBe(WEB_PORT);
  });

  it('deploys again onto the other slot: the planned port follows it', async () => {
    await writeAppVersion(work, 'v3');
    const result = await deploy(['deploy', 'web', '-m', 'v3']);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stdout).toMatch(/web: release 2 is live \(was release 1\)/);
    const before = live;
    live = await onRelease(2);
    expect(
      live.instances
        .filter((instance) => instance.service === 'web')
        .map((instance) => instance.id)
        .sort(),
    ).toEqual(['web-1b', 'web-2b']);
    expect(webOn(live, 'app').ports.http).not.toBe(webOn(before, 'app').ports.http);
    await expectServing('v3', live);
    await expectOnlyGranted((node) => webOn(live, node).ports.http!);
  });

  it('stops a release whose health check never passes at the gate; the old one keeps serving on both nodes', async () => {
    await writeAppVersion(work, 'v4', { broken: true });
    const result = await deploy(['deploy', 'web', '-m', 'v4 broken']);
    expect(result.code).toBe(1);
    // The first node's new instance, named, with its own last log lines.
    expect(result.stderr).toMatch(/health gate failed \(web-1[ab] on gw\)/);
    expect(result.stderr).toMatch(/\| v4: \/health answers 500 on purpose/);
    expect(result.stderr).toMatch(/hint: the old instances kept serving/);
    expect(result.stderr).not.toMatch(/\n\s+at /);

    const after = await onRelease(2);
    expect(
      after.instances
        .filter((instance) => instance.service === 'web')
        .map((instance) => instance.id)
        .sort(),
    ).toEqual(['web-1b', 'web-2b']);
    await expectServing('v3', after);
    const releases = JSON.parse((await cluster.hubCli(['releases', 'web', '--json'])).stdout) as {
      current: number;
    };
    expect(releases.current).toBe(2);
  });

  it('rolls back to the release before the live one, on both nodes', async () => {
    const result = await deploy(['rollback', 'web']);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stdout).toMatch(/web: release 1 is live \(was release 2\)/);
    await expectServing('v2', await onRelease(1));
    const history = await cluster.hubCli(['history', 'web']);
    expect(history.stdout).toMatch(
      /deploy\.failed\s+deploy of web to release 3 failed at health gate/,
    );
    expect(history.stdout).toMatch(
      /rollback\.succeeded\s+rollback of web: release 1 is live on 2 nodes/,
    );
  });
});
