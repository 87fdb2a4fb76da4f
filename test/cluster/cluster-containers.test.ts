// A mixed stack across two lab nodes, for real: each node has its own dockerd (the lab's, in
// the node's namespace) with the busybox test image loaded (no registry is reachable), the
// hub and the agents are the real ones, and image services and native ones run on both
// nodes (fixtures/mixed-cluster.yml). Every call is made from inside a container or by a
// native service itself, to the address its env renders: container to native and to
// container across nodes, native to container across nodes (by name) and on its node,
// container to a native service of its own node by name; a pair with no grant is refused
// by the firewall, on one node and across nodes. Needs root.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecResult } from '../../src/container/engine/index.ts';
import type { StatusReport } from '../../src/hub/status-report.ts';
import { runningDockerd } from '../../src/lab/lab-dockerd.ts';
import { labDockerds } from '../../src/lab/lab.ts';
import { LabCluster } from '../helpers/lab-cluster.ts';

const isRoot = process.getuid?.() === 0;
const IMAGE = 'flotilla-test/busybox:cluster';
const STACK = 'labmixed';
const MESH = { one: '100.96.0.1', two: '100.96.0.2' };
/** Each image service's node and published port (mixed-cluster.yml). */
const CONTAINERS = {
  front: { node: 'one', port: 18081 },
  cache: { node: 'two', port: 18082 },
};
/** Each native service's node and port. */
const NATIVE = {
  notes: { node: 'one', port: 18091 },
  store: { node: 'two', port: 18092 },
  vault: { node: 'one', port: 18093 },
};
/** How `timeout` ends a GET that gets no answer at all: a drop, not a port with nothing on it. */
const DROPPED = 143;
/** What a container's page says (its instance and node), as echo.js says it too. */
const page = (instance: string, node: string) => ({ instance, node });

describe.skipIf(!isRoot)('a mixed stack across two lab nodes', { timeout: 180_000 }, () => {
  let cluster: LabCluster;
  let ready: StatusReport;

  beforeAll(async () => {
    cluster = await LabCluster.start({
      stackFile: path.resolve('test/cluster/fixtures/mixed-cluster.yml'),
      nodes: ['one', 'two'],
      docker: true,
      images: [{ reference: IMAGE }],
    });
    // Bounds for a loaded machine (two dockerds, the mesh, five services), not measurements.
    ready = await cluster.until((report) => report.ready, 120_000);
  }, 180_000);

  afterAll(async () => {
    const engines = cluster ? labDockerds(cluster.lab) : [];
    await cluster?.close();
    // close() took the engines down with the lab: none may be left running.
    for (const engine of engines) expect(runningDockerd(engine)).toBeUndefined();
  }, 120_000);

  /** A shell command inside `service`'s container, on its node's engine. */
  function inContainer(service: keyof typeof CONTAINERS, script: string): Promise<ExecResult> {
    const instance = ready.instances.find((candidate) => candidate.service === service)!;
    return cluster
      .engine(instance.node)
      .exec.run(instance.container!.id, { cmd: ['sh', '-c', script], timeoutMs: 20_000 });
  }

  /** An HTTP GET from inside `service`'s container: the parsed JSON, or how it failed. */
  async function getFrom(service: keyof typeof CONTAINERS, url: string): Promise<unknown> {
    // A refused connection is a drop (no answer at all), so the wait must end: `timeout`,
    // as the test image's wget crashes with its own -T.
    const result = await inContainer(service, `exec timeout 5 wget -qO- "${url}"`);
    return result.exitCode === 0 ? JSON.parse(result.stdout) : { failed: result.exitCode };
  }

  /** An HTTP GET of a native service's page from inside its own node (it calls its upstream). */
  async function nativePage(service: keyof typeof NATIVE): Promise<unknown> {
    const { node, port } = NATIVE[service];
    const result = await cluster.exec(node, [
      'curl',
      '-sf',
      '--max-time',
      '10',
      `http://127.0.0.1:${port}/`,
    ]);
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout);
  }

  it('runs each image service in a container of its own node’s engine, all healthy in status', async () => {
    for (const [service, { node }] of Object.entries(CONTAINERS)) {
      const instance = ready.instances.find((candidate) => candidate.service === service);
      expect(instance).toMatchObject({ node, state: 'running', healthy: true });
      const container = instance!.container!;
      const own = cluster.engine(node);
      expect((await own.containers.inspect(container.id)).state.running).toBe(true);
      expect(container.image_id).toBe((await own.images.inspect(IMAGE)).id);
      // The other node's engine never saw it.
      const other = node === 'one' ? 'two' : 'one';
      await expect(cluster.engine(other).containers.inspect(container.id)).rejects.toThrow(
        /no container/,
      );
    }
    for (const [service, { node }] of Object.entries(NATIVE)) {
      const instance = ready.instances.find((candidate) => candidate.service === service);
      expect(instance).toMatchObject({ node, state: 'running', healthy: true });
      expect(instance!.container).toBeUndefined();
    }
    const text = await cluster.hubCli(['status']);
    expect(text.code).toBe(0);
    for (const service of [...Object.keys(CONTAINERS), ...Object.keys(NATIVE)])
      expect(text.stdout).toMatch(new RegExp(`${service}-1\\b`));
  });

  it("answers on each image service's published port inside its node", async () => {
    for (const [service, { node, port }] of Object.entries(CONTAINERS)) {
      const result = await cluster.exec(node, [
        'curl',
        '-sf',
        '--max-time',
        '5',
        `http://127.0.0.1:${port}/`,
      ]);
      expect(JSON.parse(result.stdout)).toEqual(page(`${service}-1`, node));
    }
  });

  it('a container reaches a native service and a container of the other node by name', async () => {
    // store answers with what it got from front in turn: a round trip across the mesh.
    expect(await getFrom('front', 'http://$STORE/')).toEqual({
      ...page('store-1', 'two'),
      upstream: page('front-1', 'one'),
    });
    expect(await getFrom('front', '$CACHE')).toEqual(page('cache-1', 'two'));
    // By name and published port: each name is an extra host at the other node's mesh address.
    const env = await inContainer(
      'front',
      'echo "$STORE $CACHE"; grep -E "store|cache" /etc/hosts',
    );
    expect(env.stdout).toBe(
      `store:18092 http://cache:18082/\n${MESH.two}\tcache\n${MESH.two}\tstore\n`,
    );
  });

  it('a container reaches a native service of its own node by name', async () => {
    expect((await inContainer('front', 'echo "$NOTES"')).stdout).toBe('notes:18091\n');
    expect(await getFrom('front', 'http://$NOTES/')).toEqual({
      ...page('notes-1', 'one'),
      upstream: page('front-1', 'one'),
    });
  });

  it('a native service reaches a container of the other node by name, and one of its own node', async () => {
    // store calls http://front:18081/ (its node's hosts file names front's node).
    expect(await nativePage('store')).toEqual({
      ...page('store-1', 'two'),
      upstream: page('front-1', 'one'),
    });
    // notes calls front over loopback, where front's port is published.
    expect(await nativePage('notes')).toEqual({
      ...page('notes-1', 'one'),
      upstream: page('front-1', 'one'),
    });
  });

  it('refuses a pair with no grant: a native service nothing may reach, from its node and across nodes', async () => {
    // vault runs and listens on every address: only the firewall keeps it closed.
    expect(await nativePage('vault')).toEqual(page('vault-1', 'one'));
    // On its node: front's gateway forwards notes's port only, not vault's.
    expect(await getFrom('front', `http://notes:${NATIVE.vault.port}/`)).toMatchObject({
      failed: DROPPED,
    });
    // Across nodes: two may reach notes on one (cache shares its segment), never vault.
    expect(await getFrom('cache', `http://${MESH.one}:${NATIVE.notes.port}/`)).toMatchObject(
      page('notes-1', 'one'),
    );
    expect(await getFrom('cache', `http://${MESH.one}:${NATIVE.vault.port}/`)).toMatchObject({
      failed: DROPPED,
    });
  });

  it('a container still reaches a native service of its own node by name once that service is deployed', async () => {
    const deployed = await cluster.hubCli(['deploy', 'notes'], cluster.stackFile, 120_000);
    expect(deployed.code, deployed.stderr + deployed.stdout).toBe(0);
    // The release listens on its slot's port; the segment's DNAT sends the planned one there.
    expect(await getFrom('front', 'http://$NOTES/')).toEqual({
      ...page('notes-1a', 'one'),
      upstream: page('front-1', 'one'),
    });
  });

  it('flotilla down removes every container and the stack networks from both engines', async () => {
    const networks = (node: string) =>
      cluster.engine(node).networks.list({ 'flotilla.stack': STACK });
    // Before: each node has the one segment its containers use.
    for (const node of ['one', 'two'])
      expect((await networks(node)).map((network) => network.name)).toEqual([
        `flotilla-${STACK}-app`,
      ]);
    const down = await cluster.hubCli(['down']);
    expect(down.code).toBe(0);
    for (const node of ['one', 'two']) {
      const leftovers = async () => [
        ...(await cluster.engine(node).containers.list([])).map((container) => container.id),
        ...(await networks(node)).map((network) => network.name),
      ];
      const deadline = Date.now() + 60_000;
      let left = await leftovers();
      while (left.length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        left = await leftovers();
      }
      expect(left).toEqual([]);
    }
  });
});
