// What the container runtime tests share: a private dockerd in a network namespace of its
// own (published loopback ports live on that namespace's loopback, reached with `ip netns
// exec`), the busybox test image, temp agent paths, and desired instances of image services
// written the way plan renders them.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import type { DesiredInstance } from '../../../src/plan/desired.ts';
import type { AgentPaths, SecretLookup } from '../../../src/agent/process-spec.ts';
import { Reconciler, type ReconcileContext } from '../../../src/agent/reconciler.ts';
import { ContainerRuntime } from '../../../src/agent/runtime/container-runtime.ts';
import type { ContainerSupervisor } from '../../../src/agent/runtime/container-supervisor.ts';
import { writeSecretFiles } from '../../../src/agent/secret-files.ts';
import type { Supervisor, SupervisorEvents } from '../../../src/agent/runtime/supervisor.ts';
import { type Dockerd, startDockerd } from '../../helpers/dockerd.ts';
import { BUSYBOX, buildTestImage } from '../../helpers/test-image.ts';

const execFileAsync = promisify(execFile);

export const IMAGE = 'flotilla-test/busybox:1';
export const NODE = 'n1';
/** The default segment's subnet in these tests (plan picks one from the node's container pool). */
export const DEFAULT_SUBNET = '10.213.0.0/24';

export interface Fixture {
  dockerd: Dockerd;
  dir: string;
  paths: AgentPaths;
  /** A stack name of its own per test file, so files never see each other's containers. */
  stack: string;
  lines: string[];
  runtime(timing?: ConstructorParameters<typeof ContainerRuntime>[0]['timing']): ContainerRuntime;
  /** Runs `program args…` in dockerd's namespace (where published ports are). */
  inNetns(args: string[]): Promise<string>;
  /** Loads an nft script in dockerd's namespace (where the bridges are). */
  loadNft(script: string): Promise<void>;
  close(): Promise<void>;
}

export async function startFixture(): Promise<Fixture> {
  const dockerd = await startDockerd({ netns: true });
  const runtimes: ContainerRuntime[] = [];
  try {
    await buildTestImage(dockerd.engine, { reference: IMAGE });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'flt-container-'));
    const paths: AgentPaths = {
      instances: path.join(dir, 'instances'),
      logs: path.join(dir, 'logs'),
      secretFiles: path.join(dir, 'secret-files'),
    };
    const lines: string[] = [];
    const stack = `t${randomBytes(3).toString('hex')}`;
    return {
      dockerd,
      dir,
      paths,
      stack,
      lines,
      runtime(timing) {
        const runtime = new ContainerRuntime({
          socketPath: dockerd.socketPath,
          stack,
          node: NODE,
          paths,
          log: (line) => lines.push(line),
          ...(timing && { timing }),
          netns: dockerd.netns!,
        });
        runtimes.push(runtime);
        return runtime;
      },
      async inNetns(args) {
        const { stdout } = await execFileAsync('ip', ['netns', 'exec', dockerd.netns!, ...args]);
        return stdout;
      },
      async loadNft(script) {
        const child = spawn(
          'nsenter',
          [`--net=/run/netns/${dockerd.netns!}`, '--', 'nft', '-f', '-'],
          {
            stdio: ['pipe', 'ignore', 'pipe'],
          },
        );
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.stdin.end(script);
        const [code] = (await once(child, 'exit')) as [number | null];
        if (code !== 0) throw new Error(`nft -f failed: ${stderr}`);
      },
      async close() {
        for (const runtime of runtimes) runtime.close();
        await dockerd.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await dockerd.stop();
    throw error;
  }
}

/** One fixture for the describe block it is called in: started before, gone after. */
export function useFixture(): () => Fixture {
  let fixture: Fixture | undefined;
  beforeAll(async () => {
    fixture = await startFixture();
  }, 120_000);
  afterAll(async () => {
    await fixture?.close();
  }, 60_000);
  return () => {
    if (!fixture) throw new Error('the container fixture did not start');
    return fixture;
  };
}

/** An image-service instance as plan renders it; `runtime` fields override the defaults. */
export function imageInstance(
  id: string,
  options: Partial<Omit<DesiredInstance, 'runtime'>> & {
    runtime?: Partial<Extract<DesiredInstance['runtime'], { kind: 'container' }>>;
  } = {},
): DesiredInstance {
  const { runtime, ...rest } = options;
  return {
    id,
    service: id.replace(/-\d+$/, ''),
    index: 1,
    node: NODE,
    runtime: {
      kind: 'container',
      image: IMAGE,
      command: ['sleep', '3600'],
      env_files: [],
      mounts: [],
      read_only: false,
      cap_drop: [],
      container_ports: {},
      networks: [{ segment: 'default', subnet: DEFAULT_SUBNET, egress: false }],
      native_hosts: [],
      remote_hosts: {},
      ...runtime,
    },
    env: {},
    ports: {},
    data_dir: '/nonexistent',
    depends_on: [],
    restart: 'always',
    stop: { signal: 'SIGTERM', timeout: '5s' },
    secrets: [],
    secret_files: [],
    ...rest,
  };
}

/** Resolves with the event's payload the next time `supervisor` emits it. */
export async function next<E extends keyof SupervisorEvents>(
  supervisor: Supervisor,
  event: E,
): Promise<SupervisorEvents[E][0]> {
  const [payload] = (await once(supervisor, event)) as SupervisorEvents[E];
  return payload;
}

/** busybox wget of a loopback URL inside dockerd's namespace. */
export function wgetArgs(port: number): string[] {
  return [BUSYBOX, 'wget', '-q', '-O', '-', `http://127.0.0.1:${port}/`];
}

/** busybox wget of `url` from network namespace `netns`: its body, '' when nothing answers. */
export function getFromNetns(netns: string, url: string): Promise<string> {
  return execFileAsync(
    'nsenter',
    [`--net=/run/netns/${netns}`, '--', BUSYBOX, 'wget', '-q', '-O', '-', url],
    {
      // A bound, not a measurement (busybox's own -T crashes it).
      timeout: 10_000,
    },
  ).then(
    ({ stdout }) => stdout,
    () => '',
  );
}

/** `request`'s first non-empty answer within 30 s: a just-started server may not listen yet. */
export async function firstAnswer(request: () => Promise<string>): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const body = await request();
    if (body !== '' || Date.now() > deadline) return body;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** A second network namespace joined to dockerd's by a veth pair (another node, the internet). */
export interface Neighbour {
  netns: string;
  /** dockerd's end of the veth pair. */
  nearInterface: string;
  /** Serves `page` as / on port 80 of the neighbour's address (busybox httpd), until remove(). */
  serve(page: string): Promise<void>;
  /** Stops what it serves and deletes the namespace; the veth pair goes with it. */
  remove(): Promise<void>;
}

/** `near` and `far` are /24 addresses for dockerd's end and the neighbour's end. */
export async function addNeighbour(
  fixture: Fixture,
  prefix: string,
  addresses: { near: string; far: string },
): Promise<Neighbour> {
  const id = randomBytes(3).toString('hex');
  const netns = `${prefix}-${id}`;
  const nearInterface = `fln-${id}`;
  const farInterface = `flf-${id}`;
  await execFileAsync('ip', ['netns', 'add', netns]);
  let server: ChildProcess | undefined;
  const remove = async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = once(server, 'exit');
      server.kill('SIGTERM');
      await exited;
    }
    await execFileAsync('ip', ['netns', 'del', netns]).catch(() => undefined);
  };
  try {
    await execFileAsync('ip', [
      ...['link', 'add', nearInterface, 'netns', fixture.dockerd.netns!, 'type', 'veth'],
      ...['peer', 'name', farInterface, 'netns', netns],
    ]);
    await fixture.inNetns(['ip', 'addr', 'add', `${addresses.near}/24`, 'dev', nearInterface]);
    await fixture.inNetns(['ip', 'link', 'set', nearInterface, 'up']);
    await execFileAsync('ip', [
      '-n',
      netns,
      'addr',
      'add',
      `${addresses.far}/24`,
      'dev',
      farInterface,
    ]);
    for (const link of [farInterface, 'lo'])
      await execFileAsync('ip', ['-n', netns, 'link', 'set', link, 'up']);
  } catch (error) {
    await remove();
    throw error;
  }
  const serve = async (page: string) => {
    const root = await mkdtemp(path.join(fixture.dir, 'neighbour-'));
    await writeFile(path.join(root, 'index.html'), page);
    const httpd = [BUSYBOX, 'httpd', '-f', '-p', `${addresses.far}:80`, '-h', root];
    server = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', ...httpd], { stdio: 'ignore' });
  };
  return { netns, nearInterface, serve, remove };
}

/** A reconcile of one node alone: no secrets, nothing healthy elsewhere, never superseded. */
export const ALONE: ReconcileContext = {
  secrets: () => undefined,
  healthyInCluster: new Set(),
  current: () => true,
};

/** The agent's reconciler with only the fixture's container runtime. */
export function containerReconciler(fixture: Fixture): Reconciler {
  return new Reconciler({
    paths: fixture.paths,
    runtimes: { container: fixture.runtime() },
    event: () => {},
    changed: () => {},
  });
}

/** Writes the instance's secret files as the reconciler does, then starts its container. */
export async function startWithSecretFiles(
  fixture: Fixture,
  instance: DesiredInstance,
  secrets: SecretLookup,
): Promise<ContainerSupervisor> {
  writeSecretFiles(fixture.paths, instance, secrets);
  const supervisor = fixture
    .runtime()
    .prepare(instance, secrets)
    .supervise() as ContainerSupervisor;
  await supervisor.start();
  return supervisor;
}
