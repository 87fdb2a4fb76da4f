// A Docker Engine that manages the firewall (dockerd's default, `"iptables": true`) opens ways
// past Flotilla's: a port published on the node's mesh address is DNAT'd in nat PREROUTING and
// OUTPUT, so a connection to it never meets the chains that decide who may connect. Here a
// real dockerd with iptables on runs in a namespace standing for the node, whose input chain
// refuses the other node (a second namespace over a veth pair): the other node gets the
// container's page anyway. With Flotilla's segment table loaded, that connection is rejected
// in forward (a granted node's would be too), and the table's output chain, which refuses the
// native service `spy` every service port of the node, lets spy's connection to the
// container through. The agent's reconciler, given this engine, starts nothing and says why
// and how to fix it. A dockerd with the daemon.json a node gets (scripts/docker-daemon.json)
// makes no chains, even with a port published, and the agent runs its containers.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cgroup2Mount,
  ensureCgroup,
  removeCgroup,
  startInCgroup,
} from '../../src/agent/process/cgroup.ts';
import { Reconciler } from '../../src/agent/reconciler.ts';
import { ContainerRuntime } from '../../src/agent/runtime/container-runtime.ts';
import {
  dockerChains,
  engineFirewallProblem,
} from '../../src/agent/runtime/container/engine-firewall-check.ts';
import { DockerEngine } from '../../src/container/engine/index.ts';
import { dockerdSocket, stopDockerd, type DockerdRecord } from '../../src/lab/lab-dockerd.ts';
import {
  CGROUP_ROOT,
  localSegmentsRuleset,
  nodeCgroup,
  segmentBridge,
  segmentNetwork,
  serviceCgroup,
} from '../../src/plan/local-segments.ts';
import {
  ALONE,
  firstAnswer,
  getFromNetns,
  IMAGE,
  imageInstance,
  NODE,
} from '../agent/container/fixture.ts';
import { BUSYBOX, buildTestImage } from '../helpers/test-image.ts';

const run = promisify(execFile);

/** The node's mesh address and the other node's, on a veth pair between the namespaces. */
const MESH = '100.96.0.1';
const OTHER = '100.96.0.2';
const PORT = 18080;
const mount = cgroup2Mount();

describe.skipIf(process.getuid?.() !== 0 || mount === undefined)(
  'a Docker Engine that manages the firewall (real dockerd with iptables, two namespaces)',
  { timeout: 120_000 },
  () => {
    const id = randomBytes(3).toString('hex');
    const node = `flt-dfw-${id}`;
    const other = `flt-dfwo-${id}`;
    let record: DockerdRecord | undefined;
    let agentDir = '';
    let engine: DockerEngine;

    beforeAll(async () => {
      for (const netns of [node, other]) {
        await run('ip', ['netns', 'add', netns]);
        await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      }
      await run('ip', [
        ...['link', 'add', `fdn-${id}`, 'netns', node, 'type', 'veth'],
        ...['peer', 'name', `fdo-${id}`, 'netns', other],
      ]);
      for (const [netns, link, address] of [
        [node, `fdn-${id}`, MESH],
        [other, `fdo-${id}`, OTHER],
      ] as const) {
        await run('ip', ['-n', netns, 'addr', 'add', `${address}/24`, 'dev', link]);
        await run('ip', ['-n', netns, 'link', 'set', link, 'up']);
      }
      agentDir = await mkdtemp(path.join(os.tmpdir(), 'flt-dfw-agent-'));
      // The node's input chain: nothing from the other node (Flotilla's, where no grant says so).
      const input = path.join(agentDir, 'input.nft');
      await writeFile(
        input,
        `table inet flotilla-test {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tip saddr ${OTHER} reject\n\t}\n}\n`,
      );
      await run('ip', ['netns', 'exec', node, 'nft', '-f', input]);
      record = await startDockerdWithConfig(node, id);
      engine = new DockerEngine({ socketPath: dockerdSocket(record) });
      await buildTestImage(engine, { reference: IMAGE });
    }, 120_000);

    /** Whether Flotilla's cgroup root was there before: if not, it is this test's to remove. */
    const hadRoot = existsSync(path.join(mount ?? '/nonexistent', CGROUP_ROOT));

    afterAll(async () => {
      if (record) await stopDockerd(record);
      const stack = nodeCgroup(`t${id}`, NODE);
      for (const cgroup of [`${stack}/spy`, stack, path.dirname(stack)])
        removeCgroup(mount!, cgroup);
      if (!hadRoot) removeCgroup(mount!, CGROUP_ROOT);
      for (const netns of [node, other])
        await run('ip', ['netns', 'del', netns]).catch(() => undefined);
      if (agentDir) await rm(agentDir, { recursive: true, force: true });
    }, 60_000);

    /** An HTTP request from `netns` to the mesh address; '' when nothing answers. */
    const get = (netns: string, port: number) => getFromNetns(netns, `http://${MESH}:${port}/`);

    /** busybox httpd in the node's namespace serving `page` on the mesh address; stop() ends it. */
    async function serveNatively(port: number, page: string) {
      const root = await mkdtemp(path.join(agentDir, 'www-'));
      await writeFile(path.join(root, 'index.html'), page);
      const httpd = spawn(
        'ip',
        ['netns', 'exec', node, BUSYBOX, 'httpd', '-f', '-p', `${MESH}:${port}`, '-h', root],
        { stdio: 'ignore' },
      );
      return async () => {
        const exited = new Promise((resolve) => httpd.once('exit', resolve));
        httpd.kill('SIGTERM');
        await exited;
      };
    }

    /** An HTTP request to the mesh address from a process in `cgroup`, in the node's namespace. */
    function getFromCgroup(cgroup: string, port: number): Promise<string> {
      const child = startInCgroup(mount!, cgroup, () =>
        spawn(
          'nsenter',
          [
            `--net=/run/netns/${node}`,
            '--',
            BUSYBOX,
            'wget',
            '-q',
            '-O',
            '-',
            `http://${MESH}:${port}/`,
          ],
          { stdio: ['ignore', 'pipe', 'ignore'] },
        ),
      );
      let body = '';
      child.stdout.on('data', (chunk: Buffer) => (body += chunk.toString()));
      return new Promise((resolve) =>
        child.once('exit', (code) => resolve(code === 0 ? body : '')),
      );
    }

    it("refuses the other node's connection to a port a process of the node serves", async () => {
      const stop = await serveNatively(PORT + 1, 'native\n');
      try {
        expect(await firstAnswer(() => get(node, PORT + 1))).toBe('native\n');
        expect(await get(other, PORT + 1)).toBe('');
      } finally {
        await stop();
      }
    });

    it("takes connections to a container's port on the mesh address past the node's input and output chains", async () => {
      // A segment's network as the agent makes it: the bridge name its segment table matches.
      const segment = { segment: 'bypass', subnet: '10.213.77.0/24', egress: false, native: [] };
      const network = await engine.networks.create({
        name: `bypass-${id}`,
        subnet: segment.subnet,
        options: { 'com.docker.network.bridge.name': segmentBridge(`t${id}`, segment.segment) },
      });
      const { id: container } = await engine.containers.create({
        name: `bypass-${id}`,
        image: IMAGE,
        cmd: ['sh', '-c', 'echo bypassed > /tmp/index.html && httpd -f -p 80 -h /tmp'],
        networkMode: `bypass-${id}`,
        ports: [{ containerPort: 80, hostIp: MESH, hostPort: PORT }],
      });
      try {
        await engine.containers.start(container);
        const { stdout } = await run('ip', [
          'netns',
          'exec',
          node,
          'nft',
          'list',
          'table',
          'ip',
          'nat',
        ]);
        expect(stdout).toMatch(
          new RegExp(`ip daddr ${MESH} tcp dport ${PORT} .*dnat to 10\\.213\\.77\\.`),
        );
        expect(await firstAnswer(() => get(other, PORT))).toBe('bypassed\n');
        // Flotilla's segment table forwards nothing into a segment from outside the node: it
        // stops this connection, and would stop a granted node's alike. Either way the input
        // chain, where the node decides who may connect, is never asked. Its output chain
        // gives the native service `spy` none of the node's service ports.
        const spy = serviceCgroup(`t${id}`, NODE, 'spy');
        ensureCgroup(mount!, spy);
        const table = path.join(agentDir, 'segments.nft');
        await writeFile(
          table,
          localSegmentsRuleset(
            {
              stack: `t${id}`,
              node: NODE,
              services: [{ service: 'spy', may: [] }],
              guarded: [PORT, PORT + 1],
              containers: [segment],
            },
            mount,
          ),
        );
        // nsenter, not `ip netns exec` (a fresh /sys without cgroup2, where nft resolves them).
        await run('nsenter', [`--net=/run/netns/${node}`, '--', 'nft', '-f', table]);
        expect(await get(other, PORT)).toBe('');
        // The grant holds for a port a process serves: spy is refused, the node is served.
        const stop = await serveNatively(PORT + 1, 'native\n');
        try {
          expect(await firstAnswer(() => get(node, PORT + 1))).toBe('native\n');
          expect(await getFromCgroup(spy, PORT + 1)).toBe('');
        } finally {
          await stop();
        }
        // Docker's nat OUTPUT rule takes spy's connection to the container past that chain.
        expect(await getFromCgroup(spy, PORT)).toBe('bypassed\n');
      } finally {
        await engine.containers.remove(container, { force: true });
        await engine.networks.remove(network);
      }
    });

    it('makes the agent start no container, with the reason and the fix in its status', async () => {
      const stack = `t${id}`;
      const { runtime, reconciler, events } = agentOn(record!, node, stack, agentDir);
      try {
        await reconciler.reconcile(
          [
            imageInstance('web-1', {
              ports: { http: PORT },
              runtime: {
                command: ['httpd', '-f', '-p', '80'],
                container_ports: { http: 80 },
                publish_address: MESH,
              },
            }),
          ],
          ALONE,
        );
        const [status] = reconciler.instances();
        expect(status).toMatchObject({ id: 'web-1', state: 'failed', healthy: false });
        expect(status!.reason).toMatch(
          /^the Docker Engine manages this node's firewall \(its chains are there: .*ip nat DOCKER/,
        );
        expect(status!.reason).toMatch(/"iptables": false .*\/etc\/docker\/daemon\.json/);
        expect(events).toEqual([`instance.failed: web-1: ${status!.reason}`]);
        expect(await engine.containers.list({ 'flotilla.stack': stack })).toEqual([]);
        expect((await engine.networks.list([])).map((network) => network.name)).not.toContain(
          segmentNetwork(stack, 'default'),
        );
      } finally {
        runtime.close();
      }
    });
  },
);

/** The agent's reconciler with a container runtime driving the dockerd of `record`. */
function agentOn(record: DockerdRecord, netns: string, stack: string, dir: string) {
  const events: string[] = [];
  const paths = {
    instances: path.join(dir, 'instances'),
    logs: path.join(dir, 'logs'),
    secretFiles: path.join(dir, 'secret-files'),
  };
  const runtime = new ContainerRuntime({
    socketPath: dockerdSocket(record),
    stack,
    node: NODE,
    paths,
    log: () => {},
    netns,
  });
  const reconciler = new Reconciler({
    paths,
    runtimes: { container: runtime },
    event: (type, message) => events.push(`${type}: ${message}`),
    changed: () => {},
  });
  return { runtime, reconciler, events };
}

describe.skipIf(process.getuid?.() !== 0)(
  "a Docker Engine with a node's daemon.json (real dockerd, scripts/docker-daemon.json)",
  { timeout: 120_000 },
  () => {
    const id = randomBytes(3).toString('hex');
    const node = `flt-dnj-${id}`;
    let record: DockerdRecord | undefined;
    let agentDir = '';

    beforeAll(async () => {
      await run('ip', ['netns', 'add', node]);
      await run('ip', ['-n', node, 'link', 'set', 'lo', 'up']);
      const daemonJson = JSON.parse(
        await readFile(new URL('../../scripts/docker-daemon.json', import.meta.url), 'utf8'),
      ) as Record<string, unknown>;
      record = await startDockerdWithConfig(node, id, daemonJson);
      await buildTestImage(new DockerEngine({ socketPath: dockerdSocket(record) }), {
        reference: IMAGE,
      });
      agentDir = await mkdtemp(path.join(os.tmpdir(), 'flt-dnj-agent-'));
    }, 120_000);

    afterAll(async () => {
      if (record) await stopDockerd(record);
      await run('ip', ['netns', 'del', node]).catch(() => undefined);
      if (agentDir) await rm(agentDir, { recursive: true, force: true });
    }, 60_000);

    it('leaves the firewall alone, and the agent runs its containers', async () => {
      const { runtime, reconciler } = agentOn(record!, node, `t${id}`, agentDir);
      try {
        await reconciler.reconcile(
          [
            imageInstance('web-1', {
              ports: { http: PORT },
              runtime: { command: ['httpd', '-f', '-p', '80'], container_ports: { http: 80 } },
            }),
          ],
          ALONE,
        );
        expect(reconciler.instances()[0]).toMatchObject({ id: 'web-1', state: 'running' });
        // Published on loopback, a network made: still none of Docker's chains.
        expect(await dockerChains(node)).toEqual([]);
        expect(await engineFirewallProblem(node)).toBeUndefined();
        await reconciler.stopAll({});
      } finally {
        runtime.close();
      }
    });
  },
);

/**
 * A dockerd configured by `config` (iptables on unless it says otherwise: no flag touches
 * it) in `netns`, laid out as lab-dockerd.ts lays out its own (dir, socket, pidfile, cgroup
 * parent), so its stopDockerd removes everything.
 */
async function startDockerdWithConfig(
  netns: string,
  id: string,
  config: Record<string, unknown> = {},
): Promise<DockerdRecord> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flt-dockerd-fw-'));
  const record: DockerdRecord = { dir, netns, cgroupParent: `/flotilla-test-dockerd-${id}` };
  const configFile = path.join(dir, 'daemon.json');
  await writeFile(
    configFile,
    JSON.stringify({ ...config, 'deprecated-key-path': path.join(dir, 'key.json') }),
  );
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${netns}`,
      '--',
      ...['dockerd', '--config-file', configFile, '--data-root', path.join(dir, 'data')],
      ...['--exec-root', path.join(dir, 'exec'), '--pidfile', path.join(dir, 'docker.pid')],
      ...['-H', `unix://${dockerdSocket(record)}`, '--storage-driver', 'vfs', '--bridge=none'],
      ...['--cgroup-parent', record.cgroupParent],
    ],
    { stdio: 'ignore', detached: true },
  );
  record.pid = child.pid!;
  child.unref();
  const engine = new DockerEngine({ socketPath: dockerdSocket(record) });
  for (let attempt = 0; ; attempt++) {
    try {
      await engine.system.ping(AbortSignal.timeout(2_000));
      return record;
    } catch (error) {
      if (attempt > 200 || child.exitCode !== null) {
        await stopDockerd(record);
        throw error;
      }
      await sleep(250);
    }
  }
}
