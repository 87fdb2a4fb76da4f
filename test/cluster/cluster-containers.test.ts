// Image services across two lab nodes, for real: each node has its own dockerd (the lab's,
// in the node's namespace) with the busybox test image loaded (no registry is reachable), the
// hub and the agents are the real ones, and each service's container runs on the node plan
// put it on, healthy in `flotilla status`, answering on its published port inside that node.
// Only what runs on each node is checked from that node: cross-node container traffic is not
// part of this test. Needs root.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../src/hub/status-report.ts';
import { runningDockerd } from '../../src/lab/lab-dockerd.ts';
import { labDockerds } from '../../src/lab/lab.ts';
import { LabCluster } from '../helpers/lab-cluster.ts';

const isRoot = process.getuid?.() === 0;
const IMAGE = 'flotilla-test/busybox:cluster';
/** Each node's service: its published port, and the page it serves (names its node). */
const SERVICES = {
  'web-one': { node: 'one', port: 18081 },
  'web-two': { node: 'two', port: 18082 },
};

function stackFile(): string {
  const services = Object.entries(SERVICES)
    .map(
      ([name, { node, port }]) => `  ${name}:
    node: ${node}
    image: ${IMAGE}
    command: [sh, -c, 'echo served by ${node} > /var/www/index.html && exec httpd -f -p 8080 -h /var/www']
    ports: { http: ${port} }
    container_ports: { http: 8080 }
    health: { http: { path: / } }
`,
    )
    .join('');
  return `# Two lab nodes, one image service on each.
name: labcontainers
mesh: { provider: wireguard, cidr: 100.96.0.0/16, port: 51820 }
nodes:
  one: { address: 203.0.113.11, gateway: true }
  two: { address: 203.0.113.12 }
services:
${services}`;
}

describe.skipIf(!isRoot)('image services across two lab nodes', { timeout: 180_000 }, () => {
  let cluster: LabCluster;
  let ready: StatusReport;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'flotilla-cluster-containers-'));
    await writeFile(path.join(work, 'flotilla.yml'), stackFile());
    cluster = await LabCluster.start({
      stackFile: path.join(work, 'flotilla.yml'),
      nodes: ['one', 'two'],
      docker: true,
      images: [{ reference: IMAGE }],
    });
    // Bounds for a loaded machine (two dockerds, the mesh, two containers), not measurements.
    ready = await cluster.until((report) => report.ready, 120_000);
  }, 180_000);

  afterAll(async () => {
    const engines = cluster ? labDockerds(cluster.lab) : [];
    await cluster?.close();
    await rm(work, { recursive: true, force: true });
    // close() took the engines down with the lab: none may be left running.
    for (const engine of engines) expect(runningDockerd(engine)).toBeUndefined();
  }, 120_000);

  it('runs each service in a container of its own node’s engine, healthy in status', async () => {
    for (const [service, { node }] of Object.entries(SERVICES)) {
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
    const text = await cluster.hubCli(['status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/web-one-1/);
    expect(text.stdout).toMatch(/web-two-1/);
  });

  it("answers on each service's published port inside its node", async () => {
    for (const { node, port } of Object.values(SERVICES)) {
      const page = await cluster.exec(node, [
        'curl',
        '-sf',
        '--max-time',
        '5',
        `http://127.0.0.1:${port}/`,
      ]);
      expect(page.stdout).toBe(`served by ${node}\n`);
    }
  });

  it('flotilla down removes every container from both engines', async () => {
    const down = await cluster.hubCli(['down']);
    expect(down.code).toBe(0);
    for (const node of ['one', 'two']) {
      const deadline = Date.now() + 60_000;
      let left = await cluster.engine(node).containers.list([]);
      while (left.length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        left = await cluster.engine(node).containers.list([]);
      }
      expect(left).toEqual([]);
    }
  });
});
