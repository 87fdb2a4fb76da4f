// `flotilla lab up --docker` (needs root): one real dockerd per lab node, inside the node's
// namespace, each answering on its own socket and running containers whose published ports
// answer inside that node only; `lab down` stops every engine by its recorded PID and leaves
// no process, socket, dir or namespace, also after a dockerd was killed and after a crash
// that came before its PID was recorded.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerEngine } from '../../src/container/engine/index.ts';
import { cgroupProcs, processesNaming } from '../../src/lab/dockerd-leftovers.ts';
import { dockerdSocket, runningDockerd } from '../../src/lab/lab-dockerd.ts';
import { isAlive } from '../../src/system/proc.ts';
import {
  labDockerds,
  labDownState,
  listNamespaces,
  planLab,
  type LabState,
} from '../../src/lab/lab.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';
import { buildTestImage } from '../helpers/test-image.ts';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const IMAGE = 'flotilla-test/busybox:lab';
const PORT = 18080;

describe('planLab with docker', () => {
  it('records one engine per node, inside its namespace, with its own dir and cgroup parent', () => {
    const state = planLab('engines', 2, { docker: true });
    const engines = labDockerds(state);
    expect(engines.map((engine) => [engine.node, engine.netns])).toEqual([
      ['node1', 'flotilla-engines-node1'],
      ['node2', 'flotilla-engines-node2'],
    ]);
    expect(new Set(engines.map((engine) => engine.dir)).size).toBe(2);
    expect(new Set(engines.map((engine) => engine.cgroupParent)).size).toBe(2);
    // A unix socket path has room for 107 bytes: the longest lab name under the default dir.
    const longest = planLab('a'.repeat(32), 50, { docker: true });
    for (const engine of labDockerds(longest))
      expect(dockerdSocket(engine).length).toBeLessThan(108);
    expect(labDockerds(planLab('plain', 2))).toEqual([]);
  });
});

describe.skipIf(!isRoot)('a lab state file that does not check out', () => {
  it('is refused with the file, what is wrong and a hint: no PID from it is signalled', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'flotilla-lab-bad-'));
    try {
      const state = planLab('bad', 1, { docker: true });
      const engine = state.resources.find((resource) => resource.kind === 'dockerd')!;
      await writeFile(
        path.join(dir, 'bad.json'),
        JSON.stringify({ ...state, resources: [{ ...engine, pid: 'not-a-pid' }] }),
      );
      const down = await flotilla(['lab', 'down', '--name', 'bad'], { FLOTILLA_LAB_DIR: dir });
      expect(down.code).toBe(1);
      expect(down.stderr).toContain(`${path.join(dir, 'bad.json')} is not a lab state file`);
      expect(down.stderr).toMatch(/pid/);
      expect(down.stderr).toMatch(/^hint: /m);
      expect(down.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!isRoot)(
  'flotilla lab up --docker (real dockerd per node)',
  { timeout: 180_000 },
  () => {
    const name = `d${randomBytes(4).toString('hex')}`;
    let dir: string;
    let env: NodeJS.ProcessEnv;
    let state: LabState;
    const lab = (...args: string[]) => flotilla(['lab', ...args, '--name', name], env);
    const stateFile = () => path.join(dir, `${name}.json`);
    const engineOf = (index: number) =>
      new DockerEngine({ socketPath: dockerdSocket(labDockerds(state)[index]!) });

    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'flotilla-lab-docker-'));
      env = { FLOTILLA_LAB_DIR: dir };
      const up = await lab('up', '--nodes', '2', '--docker');
      expect(up.stderr).toBe('');
      expect(up.code).toBe(0);
      state = JSON.parse(await readFile(stateFile(), 'utf8')) as LabState;
    }, 180_000);

    afterAll(async () => {
      // Whatever happened above, leave no engine, dir or namespace behind.
      const recorded = existsSync(stateFile())
        ? (JSON.parse(await readFile(stateFile(), 'utf8')) as LabState)
        : undefined;
      if (recorded) await labDownState(recorded).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }, 120_000);

    it('records a running dockerd per node, in that node’s namespace, answering on its socket', async () => {
      const engines = labDockerds(state);
      expect(engines).toHaveLength(2);
      for (const [index, engine] of engines.entries()) {
        expect(engine.pid).toBeGreaterThan(0);
        expect(runningDockerd(engine)).toBe(engine.pid);
        const { stdout } = await run('ip', ['netns', 'identify', String(engine.pid)]);
        expect(stdout.trim()).toBe(state.nodes[index]!.namespace);
        await engineOf(index).system.ping();
      }
      const status = await lab('status', '--json');
      expect(status.code).toBe(0);
      const parsed = JSON.parse(status.stdout) as { nodes: { docker?: { running: boolean } }[] };
      expect(parsed.nodes.map((node) => node.docker?.running)).toEqual([true, true]);
    });

    it('runs a container from the loaded test image on each node; its published port answers in that node', async () => {
      for (const [index, node] of state.nodes.entries()) {
        const engine = engineOf(index);
        await buildTestImage(engine, { reference: IMAGE });
        const network = await engine.networks.create({ name: `lab-${node.name}` });
        const { id } = await engine.containers.create({
          name: `web-${node.name}`,
          image: IMAGE,
          // Its own page, so an answer says which node's engine served it.
          cmd: [
            'sh',
            '-c',
            `echo ${node.name} > /var/www/index.html && exec httpd -f -p 8080 -h /var/www`,
          ],
          ports: [{ containerPort: 8080, hostIp: '127.0.0.1', hostPort: PORT }],
          networkMode: network,
        });
        await engine.containers.start(id);
      }
      for (const node of state.nodes)
        expect(await fetchIn(node.namespace, `http://127.0.0.1:${PORT}/`)).toBe(`${node.name}\n`);
    });

    it('lab down stops every engine by its recorded PID, also one killed and one never recorded, and removes everything', async () => {
      const [first, second] = labDockerds(state);
      // node1's engine crashes (SIGKILL): its containerd, shim and container keep running.
      const leftover = [...cgroupProcs(first!.cgroupParent), ...processesNaming(first!.dir)];
      expect(leftover.length).toBeGreaterThan(0);
      process.kill(first!.pid!, 'SIGKILL');
      // node2's PID is dropped from the state file, as if `up` crashed before recording it.
      const crashed = JSON.parse(await readFile(stateFile(), 'utf8')) as LabState;
      for (const resource of crashed.resources)
        if (resource.kind === 'dockerd' && resource.node === 'node2') {
          delete resource.pid;
          delete resource.startTime;
        }
      await writeFile(stateFile(), JSON.stringify(crashed));

      const down = await lab('down');
      expect(down.stderr).toBe('');
      expect(down.code).toBe(0);
      for (const engine of [first!, second!]) {
        expect(isAlive(engine.pid!)).toBe(false);
        expect(cgroupProcs(engine.cgroupParent)).toEqual([]);
        expect(processesNaming(engine.dir)).toEqual([]);
        expect(existsSync(dockerdSocket(engine))).toBe(false);
        expect(existsSync(engine.dir)).toBe(false);
      }
      for (const pid of leftover) expect(isAlive(pid)).toBe(false);
      expect(existsSync(path.dirname(first!.dir))).toBe(false);
      expect(existsSync(stateFile())).toBe(false);
      const namespaces = await listNamespaces();
      for (const node of state.nodes) expect(namespaces.has(node.namespace)).toBe(false);

      const again = await lab('down');
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('nothing to remove');
    });
  },
);

/** curl inside `namespace`, retried while the container starts (a bound, 30 s). */
async function fetchIn(namespace: string, url: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const argv = ['netns', 'exec', namespace, 'curl', '-sf', '--max-time', '2', url];
      const { stdout } = await run('ip', argv);
      return stdout;
    } catch (error) {
      last = error;
      await sleep(200);
    }
  }
  throw new Error(`${url} did not answer in ${namespace}: ${String(last)}`);
}
