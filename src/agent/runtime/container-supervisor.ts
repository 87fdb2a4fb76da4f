// The agent's supervisor for one image-service instance: a container of its own (labelled
// with the stack, node, service, instance and spec hash) run through the Docker Engine with
// the native supervisor's guarantees. The engine never restarts it (RestartPolicy "no"):
// exits come from the runtime's shared event stream and restarts follow the same backoff
// as processes. A running container with this instance's labels and spec hash is adopted,
// one with another spec hash replaced; `detach` leaves it running for the next agent.
import {
  type DockerEngine,
  EngineError,
  EngineUnavailableError,
  NoSuchContainerError,
  type ContainerEvent,
} from '../../container/engine/index.ts';
import type { ContainerStatus } from '../../protocol/status.ts';
import type { ProbeResult } from '../../monitoring/deadline.ts';
import type { Probe } from '../health/probe.ts';
import { DEFAULT_RESTART_TIMING, type RestartTiming } from '../process/backoff.ts';
import { RESYNC, type ContainerEvents } from './container/container-events.ts';
import { LABEL, type ContainerSpec } from './container/container-spec.ts';
import { DefaultRouteError, routeOutThrough } from './container/default-route.ts';
import { ensureImage, permanentPullFailure } from './container/image-source.ts';
import { readRestarts, writeRestarts, forgetRestarts } from './container/restart-count.ts';
import { RestartTracker } from './container/restart-tracker.ts';
import { ensureSegmentNetworks } from './container/segment-networks.ts';
import type { ExitInfo, InstanceState, Supervisor, SupervisorStatus } from './supervisor.ts';
import { SupervisorLifecycle } from './supervisor-lifecycle.ts';

export interface ContainerSupervisorOptions {
  engine: DockerEngine;
  events: ContainerEvents;
  spec: ContainerSpec;
  /** Where the restart count is kept (the agent's instance records dir). */
  recordDir: string;
  log: (line: string) => void;
  timing?: Partial<RestartTiming>;
  /** The network namespace dockerd's bridges are in, when not the agent's own (tests). */
  netns?: string;
}

interface Running {
  containerId: string;
  startedAt: number;
  pid?: number;
  /** Set once its exit was handled: the event and a stop's own check may both report it. */
  done: boolean;
  unlisten: () => void;
}

/** A message a person can act on: the engine's typed errors carry a hint. */
function describe(error: unknown): string {
  if (error instanceof EngineUnavailableError && error.cause instanceof Error)
    if ((error.cause as NodeJS.ErrnoException).code === 'ENOENT')
      return `${error.message}: is Docker installed and running? (apt-get install docker.io; systemctl start docker; or point the agent at its socket with FLOTILLA_DOCKER_SOCKET)`;
  if (error instanceof EngineError) return `${error.message} (${error.hint})`;
  return error instanceof Error ? error.message : String(error);
}

export class ContainerSupervisor extends SupervisorLifecycle implements Supervisor {
  readonly specHash: string;
  private readonly spec: ContainerSpec;
  private readonly engine: DockerEngine;
  private readonly tracker: RestartTracker;
  private state: InstanceState = 'stopped';
  private lastExit: ExitInfo | undefined;
  private error: string | undefined;
  private running: Running | undefined;
  private container: ContainerStatus | undefined;

  constructor(private readonly options: ContainerSupervisorOptions) {
    super(options.spec.id);
    this.spec = options.spec;
    this.engine = options.engine;
    this.specHash = options.spec.specHash;
    this.tracker = new RestartTracker(
      { ...DEFAULT_RESTART_TIMING, ...options.timing },
      options.spec.restart,
    );
  }

  get status(): SupervisorStatus {
    const status: SupervisorStatus = {
      state: this.state,
      restarts: this.restarts,
      unstableStarts: this.tracker.unstableStarts,
    };
    if (this.running && this.state === 'running') {
      if (this.running.pid !== undefined) status.pid = this.running.pid;
      status.startedAt = this.running.startedAt;
    }
    if (this.lastExit) status.lastExit = { ...this.lastExit };
    if (this.error !== undefined) status.error = this.error;
    if (this.container) status.container = { ...this.container };
    return status;
  }

  protected beforeStart(): void {
    this.tracker.reset();
  }

  /** Ends the engine's event watch; the container keeps running for the next agent. */
  protected afterDetach(): void {
    this.running?.unlisten();
  }

  /** Runs an exec health check inside the container, as the container's user. */
  async probeExec(
    command: string[],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ProbeResult> {
    const running = this.running;
    if (!running) return { ok: false, detail: 'not running' };
    try {
      const result = await this.engine.exec.run(running.containerId, {
        cmd: command,
        timeoutMs,
        ...(signal && { signal }),
      });
      const output = (result.stderr || result.stdout).trim().split('\n').at(-1) ?? '';
      return result.exitCode === 0
        ? { ok: true, detail: 'exit 0' }
        : { ok: false, detail: `exit ${result.exitCode}${output ? `: ${output}` : ''}` };
    } catch (error) {
      return { ok: false, detail: describe(error) };
    }
  }

  /**
   * The image's HEALTHCHECK as the engine runs it (with the image's interval and retries),
   * read from what the engine reported at start and in its events since; undefined when
   * the container has no healthcheck. Called once the container has started.
   */
  engineHealthProbe(): Probe | undefined {
    if (this.container?.engine_health === undefined) return undefined;
    return async (signal) => {
      const health = this.running ? this.container?.engine_health : undefined;
      if (health === 'healthy') return { ok: true, detail: "the image's HEALTHCHECK passes" };
      if (health === 'starting')
        return { ok: false, detail: "starting: the image's HEALTHCHECK has not passed yet" };
      if (health !== 'unhealthy') return { ok: false, detail: 'not running' };
      // Only a failing check costs a look at the engine: its last output says why.
      const info = await this.engine.containers.inspect(this.running!.containerId, signal);
      const output = info.state.health?.last?.output.trim().split('\n').at(-1) ?? '';
      return { ok: false, detail: `the image's HEALTHCHECK fails${output ? `: ${output}` : ''}` };
    };
  }

  /** Engine stop (the stop signal, SIGKILL after the timeout), then the container goes. */
  protected async shutDown(): Promise<void> {
    await this.launching;
    const running = this.running;
    try {
      if (running) {
        await this.engine.containers.stop(running.containerId, {
          timeoutSeconds: Math.ceil(this.spec.stop.timeoutMs / 1000),
        });
        await this.exitOf(running);
      }
      // Also what a previous agent left of this instance, if this supervisor never ran it.
      for (const container of await this.ownContainers())
        await this.engine.containers.remove(container.id, { force: true });
      forgetRestarts(this.options.recordDir, this.spec.id);
    } catch (error) {
      if (!(error instanceof NoSuchContainerError)) this.error = describe(error);
    }
    this.state = 'stopped';
    this.emit('stopped');
  }

  private ownContainers() {
    return this.engine.containers.list({
      [LABEL.stack]: this.spec.stack,
      [LABEL.node]: this.spec.node,
      [LABEL.instance]: this.spec.id,
    });
  }

  protected async launch(mayAdopt: boolean): Promise<void> {
    this.state = 'starting';
    let running: Running | undefined;
    try {
      const image = await ensureImage(
        this.engine,
        this.spec.create.image,
        this.spec.registryAuth,
        this.options.log,
      );
      const digest = image.repoDigests[0];
      this.container = { id: '', image_id: image.id, ...(digest && { image_digest: digest }) };
      await ensureSegmentNetworks(
        {
          engine: this.engine,
          stack: this.spec.stack,
          node: this.spec.node,
          ...(this.options.netns !== undefined && { netns: this.options.netns }),
        },
        this.spec.segments,
      );
      await this.options.events.open();
      let reuse: string | undefined;
      let adopt = false;
      for (const container of await this.ownContainers()) {
        if (reuse === undefined && container.labels[LABEL.specHash] === this.specHash) {
          reuse = container.id;
          adopt = mayAdopt && container.status === 'running';
        } else {
          // An outdated copy of this instance: replace it, never run two.
          await this.engine.containers.remove(container.id, { force: true });
        }
      }
      if (!this.wanted) return;
      const id = reuse ?? (await this.create());
      this.container.id = id;
      running = this.watch(id);
      if (adopt) this.restarts = readRestarts(this.options.recordDir, this.spec.id);
      else await this.engine.containers.start(id);
      const info = await this.engine.containers.inspect(id);
      if (!info.state.running) {
        // Gone already (or before we listened, for an adopted one): handle it as its exit.
        await this.exitOf(running);
        return;
      }
      running.pid = info.state.pid;
      running.startedAt = info.state.startedAt?.getTime() ?? running.startedAt;
      if (info.state.health) this.container.engine_health = healthOf(info.state.health.status);
      this.error = undefined;
      // Before anything waits on its health: the moment it runs with dockerd's route is short.
      if (this.spec.defaultRoute !== undefined) await this.routeOut(info.state.pid);
      this.state = 'running';
      writeRestarts(this.options.recordDir, this.spec.id, this.restarts);
      this.emit('started', { pid: info.state.pid, startedAt: running.startedAt, adopted: adopt });
    } catch (error) {
      if (permanentPullFailure(error)) {
        this.fail(describe(error));
        return;
      }
      this.onExit(running, null, describe(error));
    }
  }

  /**
   * Its default route through its egress segment (default-route.ts). A failure leaves it
   * running without the internet, said in its status and the log, rather than a restart loop.
   */
  private async routeOut(pid: number): Promise<void> {
    try {
      await routeOutThrough(pid, this.spec.defaultRoute!);
    } catch (error) {
      if (!(error instanceof DefaultRouteError)) throw error;
      this.error = error.message;
      this.options.log(`${this.spec.id}: ${error.message}`);
    }
  }

  private async create(): Promise<string> {
    const { create } = this.spec;
    const labels = { ...create.labels, [LABEL.specHash]: this.specHash };
    const { id, warnings } = await this.engine.containers.create({ ...create, labels });
    for (const warning of warnings) this.options.log(`${this.spec.id}: ${warning}`);
    // Created on its first segment's network; the others are joined before it starts.
    for (const network of this.spec.networks.slice(1))
      await this.engine.networks.connect(network, id, { aliases: [this.spec.service] });
    return id;
  }

  /** Listens for the container's events before anything can happen to it. */
  private watch(containerId: string): Running {
    const running: Running = {
      containerId,
      startedAt: Date.now(),
      done: false,
      unlisten: () => {},
    };
    running.unlisten = this.options.events.on(containerId, (event) => this.onEvent(running, event));
    this.running = running;
    return running;
  }

  private onEvent(running: Running, event: ContainerEvent): void {
    // After a gap in the event stream, the container may have exited unseen: look.
    if (event.action === 'die' || event.action === RESYNC) void this.exitOf(running);
    // Read with the next status report (the image's own HEALTHCHECK).
    else if (event.action === 'health_status' && event.health && this.container)
      this.container.engine_health = event.health;
  }

  /** The exit of a container that stopped: its code and OOM kill, read once from inspect. */
  private async exitOf(running: Running): Promise<void> {
    if (running.done) return;
    let code: number | null = null;
    try {
      const info = await this.engine.containers.inspect(running.containerId);
      if (info.state.running) return;
      code = info.state.exitCode;
      if (this.container) this.container.oom_killed = info.state.oomKilled;
      this.onExit(running, code, info.state.error || undefined);
    } catch (error) {
      this.onExit(running, code, describe(error));
    }
  }

  private fail(error: string): void {
    this.error = error;
    this.state = 'failed';
    this.lastExit = { code: null, signal: null, at: Date.now() };
    this.emit('exited', { ...this.lastExit, uptimeMs: 0, error });
    this.emit('failed', { unstableStarts: this.tracker.unstableStarts });
  }

  /** `running` undefined: it never ran (the start failed with `error`). */
  private onExit(running: Running | undefined, code: number | null, error?: string): void {
    if (running) {
      if (running.done) return;
      running.done = true;
      running.unlisten();
      if (this.running === running) this.running = undefined;
    }
    const at = Date.now();
    const uptimeMs = running ? at - running.startedAt : 0;
    this.lastExit = { code, signal: null, at };
    if (error !== undefined) this.error = error;
    const event = { ...this.lastExit, uptimeMs, ...(error !== undefined && { error }) };
    if (!this.wanted) {
      this.emit('exited', event);
      return;
    }
    const outcome = this.tracker.onExit(uptimeMs, code);
    this.state =
      outcome.kind === 'restart' ? 'backoff' : outcome.kind === 'failed' ? 'failed' : 'exited';
    this.emit('exited', event);
    if (outcome.kind === 'failed') this.emit('failed', { unstableStarts: outcome.unstableStarts });
    if (outcome.kind === 'restart') this.restartAfter(outcome.delayMs);
  }
}

function healthOf(status: 'starting' | 'healthy' | 'unhealthy' | 'none') {
  return status === 'none' ? undefined : status;
}
