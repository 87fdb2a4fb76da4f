// Image services: a desired instance becomes a ContainerSpec (container/container-spec.ts)
// run by a ContainerSupervisor through the Docker Engine. What an earlier agent left
// running is known from the engine itself: containers carrying this stack's and this
// node's labels. A container without Flotilla's labels is never listed, so never touched.
// No container starts while the engine manages the node's firewall (engine-firewall-check.ts).
import { DockerEngine, EngineUnavailableError } from '../../container/engine/index.ts';
import type { DesiredInstance } from '../../plan/desired.ts';
import type { RestartTiming } from '../process/backoff.ts';
import { InstanceSpecError, type AgentPaths, type SecretLookup } from '../process-spec.ts';
import { ContainerEvents } from './container/container-events.ts';
import {
  containerLogHistory,
  followContainerLogs,
  type ContainerLogFollower,
} from './container/container-logs.ts';
import { containerSpecFor, LABEL, ownerLabels } from './container/container-spec.ts';
import { engineFirewallProblem } from './container/engine-firewall-check.ts';
import { forgetRestarts } from './container/restart-count.ts';
import { removeSegmentNetworks } from './container/segment-networks.ts';
import { ContainerSupervisor } from './container-supervisor.ts';
import type { InstanceRuntime, PreparedInstance } from './instance-runtime.ts';

const FIREWALL_RECHECK_MS = 5_000;

export interface ContainerRuntimeOptions {
  /** The Docker Engine's socket (default /var/run/docker.sock). */
  socketPath?: string;
  stack: string;
  node: string;
  paths: AgentPaths;
  log: (line: string) => void;
  /** Shorter restart timings for tests. */
  timing?: Partial<RestartTiming>;
  /** The network namespace dockerd's bridges are in, when not the agent's own (tests). */
  netns?: string;
}

export class ContainerRuntime implements InstanceRuntime {
  readonly engine: DockerEngine;
  private readonly events: ContainerEvents;
  private readonly labels: Record<string, string>;
  /** Why no container may start (read at each pass, before anything is prepared). */
  private firewallProblem: string | undefined;
  /** When the engine's firewall was last checked (performance.now()). */
  private firewallCheckedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: ContainerRuntimeOptions) {
    this.engine = new DockerEngine(
      options.socketPath === undefined ? {} : { socketPath: options.socketPath },
    );
    this.labels = ownerLabels(options.stack, options.node);
    this.events = new ContainerEvents(this.engine, this.labels, options.log);
  }

  prepare(instance: DesiredInstance, secrets: SecretLookup): PreparedInstance {
    const { stack, paths, log, timing, netns } = this.options;
    if (this.firewallProblem !== undefined) throw new InstanceSpecError(this.firewallProblem);
    const spec = containerSpecFor(instance, stack, paths, secrets);
    // An exec check runs inside the container the latest supervisor runs.
    let current: ContainerSupervisor | undefined;
    return {
      specHash: spec.specHash,
      checkTarget: {
        ports: instance.ports,
        env: spec.create.env ?? {},
        cwd: '/',
        exec: (command, timeoutMs, signal) =>
          current?.probeExec(command, timeoutMs, signal) ??
          Promise.resolve({ ok: false, detail: 'not running' }),
      },
      ownHealth: () => current?.engineHealthProbe(),
      supervise: () =>
        (current = new ContainerSupervisor({
          engine: this.engine,
          events: this.events,
          spec,
          recordDir: paths.instances,
          log,
          ...(timing && { timing }),
          ...(netns !== undefined && { netns }),
        })),
    };
  }

  /**
   * Without an engine there is nothing left over (its image instances fail with a hint).
   * Asked at the start of every reconcile pass: the engine's firewall is checked here too.
   */
  async leftovers(): Promise<string[]> {
    let containers;
    try {
      containers = await this.engine.containers.list(this.labels);
    } catch (error) {
      if (error instanceof EngineUnavailableError) return [];
      throw error;
    }
    await this.checkEngineFirewall();
    return [...new Set(containers.map((container) => container.labels[LABEL.instance] ?? ''))]
      .filter((id) => id !== '')
      .sort();
  }

  /**
   * Docker's chains change only when someone reconfigures dockerd, while an apply makes many
   * passes on every node: the check (two spawns) runs at most every FIREWALL_RECHECK_MS, and
   * never on a node without an engine.
   */
  private async checkEngineFirewall(): Promise<void> {
    if (performance.now() - this.firewallCheckedAt < FIREWALL_RECHECK_MS) return;
    this.firewallProblem = await engineFirewallProblem(this.options.netns);
    this.firewallCheckedAt = performance.now();
  }

  /** Engine stop (its stop signal and timeout, set at create), then removal; volumes stay. */
  async stopLeftover(id: string): Promise<void> {
    const containers = await this.engine.containers.list({ ...this.labels, [LABEL.instance]: id });
    for (const container of containers) {
      if (container.status === 'running') await this.engine.containers.stop(container.id);
      await this.engine.containers.remove(container.id, { force: true });
    }
    forgetRestarts(this.options.paths.instances, id);
  }

  /** The last `count` lines of an instance's container (empty when it has none). */
  logs(id: string, count: number): Promise<string[]> {
    return containerLogHistory(this.engine, { ...this.labels, [LABEL.instance]: id }, count);
  }

  /** `flotilla logs -f` for an instance: the last `lines` lines, then new ones, across restarts. */
  followLogs(
    id: string,
    onLines: (lines: string[]) => void,
    options: { lines?: number } = {},
  ): ContainerLogFollower {
    return followContainerLogs(
      this.engine,
      { ...this.labels, [LABEL.instance]: id },
      onLines,
      options,
    );
  }

  /**
   * `down`, after every instance of the stack here is stopped: the stack's networks on this
   * node go too. Named volumes are never removed.
   */
  async removeNetworks(): Promise<void> {
    try {
      await removeSegmentNetworks(this.engine, this.options.stack, this.options.node);
    } catch (error) {
      if (!(error instanceof EngineUnavailableError)) throw error;
    }
  }

  /** Ends the event stream (the agent goes away; containers keep running). */
  close(): void {
    this.events.close();
  }
}
