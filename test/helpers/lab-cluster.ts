// A multi-node stack running for real in a lab: one network namespace per node, the hub on
// its node (`flotilla hub --detach`), an agent joined on every other node with a fresh token.
// Used by the cluster tests and the cluster benchmarks. Everything it starts is stopped by
// `close()`: the stack with `flotilla down`, agents by their recorded PIDs, then the lab.
// With `docker`, every node has its own Docker Engine (the lab's, one per namespace), its
// agent pointed at it, and test images loaded into each (no registry is reachable).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DockerEngine } from '../../src/container/engine/index.ts';
import { dockerdSocket } from '../../src/lab/lab-dockerd.ts';
import {
  labDockerds,
  labDownState,
  labUp,
  nodeDockerd,
  type LabNode,
  type LabState,
} from '../../src/lab/lab.ts';
import type { StatusReport } from '../../src/hub/status-report.ts';
import { SecretStore } from '../../src/secrets/store.ts';
import type { CliResult } from './flotilla-cli.ts';
import { buildTestImage, type TestImageOptions } from './test-image.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/flotilla.js');

export interface LabClusterOptions {
  stackFile: string;
  /** Stack node names in lab order: the first is the hub (the stack's first gateway). */
  nodes: string[];
  /** Put in the hub's secret store before it starts. */
  secrets?: Record<string, string>;
  /** false: only the hub starts; the caller joins the other nodes (`join`), e.g. to time each. */
  joinNodes?: boolean;
  /** Called once the lab exists, before the hub starts: lets a Ctrl-C handler close it. */
  onCreated?: (cluster: LabCluster) => void;
  /** One dockerd per node; each agent (the hub's too) runs image services through its own. */
  docker?: boolean;
  /** Test images built into every node's engine before the hub starts (needs `docker`). */
  images?: TestImageOptions[];
}

export class LabCluster {
  private readonly agents = new Map<string, ChildProcess>();
  /** Everything each node's agent printed (stdout and stderr), across its restarts. */
  private readonly agentOutput = new Map<string, string>();
  /** The token each node last joined with (already used, then). */
  readonly usedTokens = new Map<string, string>();

  private constructor(
    readonly lab: LabState,
    readonly dir: string,
    readonly stackFile: string,
    readonly nodes: string[],
  ) {}

  static async start(options: LabClusterOptions): Promise<LabCluster> {
    const dir = await mkdtemp(path.join(tmpdir(), 'flotilla-cluster-'));
    // Caddy runs as its own user on the gateway node: it must be able to reach its dir.
    await chmod(dir, 0o755);
    process.env.FLOTILLA_LAB_DIR = path.join(dir, 'labs');
    const lab = await labUp(`c${randomBytes(3).toString('hex')}`, options.nodes.length, {
      docker: options.docker === true,
    });
    const cluster = new LabCluster(lab, dir, path.resolve(options.stackFile), options.nodes);
    options.onCreated?.(cluster);
    try {
      for (const image of options.images ?? []) await cluster.loadImage(image);
      const store = await SecretStore.open(cluster.stateDir(options.nodes[0]!));
      for (const [name, value] of Object.entries(options.secrets ?? {}))
        await store.set(name, value);
      const hub = await cluster.hubCli([
        'hub',
        '--address',
        cluster.labNode(options.nodes[0]!).address,
        '--detach',
      ]);
      if (hub.code !== 0) throw new Error(`flotilla hub failed: ${hub.stderr}${hub.stdout}`);
      if (options.joinNodes !== false)
        for (const node of options.nodes.slice(1)) await cluster.join(node);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  labNode(node: string): LabNode {
    const index = this.nodes.indexOf(node);
    const labNode = this.lab.nodes[index];
    if (index < 0 || !labNode) throw new Error(`no lab node for ${node}`);
    return labNode;
  }

  /** `node`'s Docker Engine socket (a cluster started with `docker`). */
  dockerSocket(node: string): string {
    return dockerdSocket(nodeDockerd(this.lab, this.labNode(node).name));
  }

  /** A client of `node`'s Docker Engine. */
  engine(node: string): DockerEngine {
    return new DockerEngine({ socketPath: this.dockerSocket(node) });
  }

  /** Builds a test image into every node's engine, as `docker import` would. */
  async loadImage(options: TestImageOptions = {}): Promise<void> {
    for (const node of this.nodes) await buildTestImage(this.engine(node), options);
  }

  /** What `node`'s agent needs in its environment: its engine's socket, with `docker`. */
  private agentEnv(node: string): string[] {
    return labDockerds(this.lab).length > 0
      ? [`FLOTILLA_DOCKER_SOCKET=${this.dockerSocket(node)}`]
      : [];
  }

  stateDir(node: string): string {
    return path.join(this.dir, 'state', node);
  }

  /** argv inside a node's namespace (or the internet's). */
  async exec(node: string | 'internet', argv: string[], timeoutMs = 30_000): Promise<CliResult> {
    const namespace =
      node === 'internet' ? this.lab.internetNamespace : this.labNode(node).namespace;
    try {
      const { stdout, stderr } = await run('ip', ['netns', 'exec', namespace, ...argv], {
        timeout: timeoutMs,
        env: { ...process.env, NO_COLOR: '1' },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failure = error as { code: number | string; stdout?: string; stderr?: string };
      const code = typeof failure.code === 'number' ? failure.code : -1;
      return { code, stdout: failure.stdout ?? '', stderr: failure.stderr ?? String(error) };
    }
  }

  /** The flotilla CLI on the hub node, for this stack (or another version of its file). */
  hubCli(args: string[], stackFile = this.stackFile, timeoutMs?: number): Promise<CliResult> {
    return this.exec(
      this.nodes[0]!,
      [
        'env',
        `FLOTILLA_STATE_DIR=${this.stateDir(this.nodes[0]!)}`,
        // `hub --detach` starts the hub node's own agent with this environment.
        ...this.agentEnv(this.nodes[0]!),
        process.execPath,
        BIN,
        ...args,
        '-f',
        stackFile,
      ],
      timeoutMs,
    );
  }

  async token(node: string): Promise<string> {
    const result = await this.hubCli(['node', 'token', '--node', node]);
    if (result.code !== 0) throw new Error(`node token failed: ${result.stderr}`);
    return result.stdout.trim();
  }

  /** Joins `node` with a fresh token and waits for its agent to run. */
  async join(node: string): Promise<void> {
    const token = await this.token(node);
    await this.startAgent(node, ['--join', token, '--node', node]);
    this.usedTokens.set(node, token);
  }

  /** Starts `node`'s agent (again); resolves once it says it runs. */
  async startAgent(node: string, extra: string[] = []): Promise<number> {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.labNode(node).namespace,
        'env',
        ...this.agentEnv(node),
        process.execPath,
        BIN,
        'agent',
        '--state-dir',
        this.stateDir(node),
        '--address',
        this.labNode(node).address,
        ...extra,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
    );
    this.agents.set(node, child);
    let output = '';
    const before = this.agentOutput.get(node) ?? '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`agent ${node} did not start: ${output}`)),
        30_000,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        this.agentOutput.set(node, before + output);
        if (output.includes(' is running')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`agent ${node} exited (${code}): ${output}`));
      });
    });
    return child.pid!;
  }

  /** What `node`'s agent has printed so far (its log: one timestamped line per event). */
  agentLog(node: string): string {
    return this.agentOutput.get(node) ?? '';
  }

  /** The agent's PID (ip netns exec and env exec it, so the child is the agent itself). */
  agentPid(node: string): number | undefined {
    const child = this.agents.get(node);
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  async killAgent(node: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.agents.get(node);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async status(): Promise<StatusReport> {
    const result = await this.hubCli(['status', '--json']);
    if (result.code !== 0) throw new Error(`status failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as StatusReport;
  }

  /** Polls `status` until `check` passes; throws with the last report after `timeoutMs`. */
  async until(check: (report: StatusReport) => boolean, timeoutMs = 30_000): Promise<StatusReport> {
    const deadline = Date.now() + timeoutMs;
    let last: StatusReport | undefined;
    while (Date.now() < deadline) {
      last = await this.status().catch(() => undefined);
      if (last && check(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(
      `condition not met within ${timeoutMs} ms; last status: ${JSON.stringify(last)}`,
    );
  }

  /** Cuts `node` off the internet (its packets vanish, as when a VPS loses its network). */
  async cutLink(node: string): Promise<void> {
    await this.exec(node, ['ip', 'link', 'set', this.labNode(node).nodeLink, 'down']);
  }

  /** Brings `node`'s link back, with the default route the link took with it. */
  async restoreLink(node: string): Promise<void> {
    await this.exec(node, ['ip', 'link', 'set', this.labNode(node).nodeLink, 'up']);
    await this.exec(node, ['ip', 'route', 'replace', 'default', 'via', this.lab.internetAddress]);
  }

  /** An HTTPS request from the internet namespace to a gateway (the first node's), for `host`. */
  async viaGateway(host: string, path = '/', gatewayNode = this.nodes[0]!): Promise<CliResult> {
    const gateway = this.labNode(gatewayNode).address;
    return this.exec('internet', [
      'curl',
      '-sk',
      '--max-time',
      '5',
      '--resolve',
      `${host}:443:${gateway}`,
      `https://${host}${path}`,
    ]);
  }

  /** A TCP connect from `from` to address:port: true when it answers within a second. */
  async connects(from: string | 'internet', address: string, port: number): Promise<boolean> {
    const result = await this.exec(from, [
      'curl',
      '-s',
      '-o',
      '/dev/null',
      '--connect-timeout',
      '1',
      `http://${address}:${port}/`,
    ]);
    // 0: an HTTP answer; 52 (empty reply) and 56 also mean the port accepted the connection.
    return result.code === 0 || result.code === 52 || result.code === 56;
  }

  async close(): Promise<void> {
    await this.hubCli(['down']).catch(() => undefined);
    for (const node of this.agents.keys()) await this.killAgent(node);
    await labDownState(this.lab).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
    delete process.env.FLOTILLA_LAB_DIR;
  }
}
