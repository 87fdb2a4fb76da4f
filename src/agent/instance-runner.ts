// One instance on this node: its supervisor (a process or a container) plus its health
// monitor, folded into the InstanceStatus the agent reports. Every change is pushed to
// `onChange` at once.
import type { HealthCheck } from '../spec/schema.ts';
import type { CheckTarget } from './health/check.ts';
import { HealthMonitor, monitorHealth, type HealthState } from './health/monitor.ts';
import type { Probe } from './health/probe.ts';
import type { Supervisor } from './runtime/supervisor.ts';
import type { InstanceStatus } from '../protocol/status.ts';

/** After a start, probe this often until healthy: a fresh instance should join fast. */
const WARMUP_PROBE_MS = 100;
const WARMUP_WINDOW_MS = 10_000;
/** How often the runtime's own health (the engine's view of a HEALTHCHECK) is read. */
const OWN_HEALTH_POLL_MS = 2_000;

export interface InstanceRunnerOptions {
  id: string;
  service: string;
  ports: Record<string, number>;
  /** The release it runs, if its service was deployed. */
  release?: number;
  supervisor: Supervisor;
  /** How health checks reach the instance. */
  checkTarget: CheckTarget;
  health?: HealthCheck;
  /** Without `health`: the runtime's own view (an image's HEALTHCHECK), if it has one. */
  ownHealth?: () => Probe | undefined;
  fingerprint: string;
  onChange: () => void;
  /** Supervisor events worth an audit entry (exits, failures), already phrased. */
  onEvent: (type: string, message: string, data?: Record<string, unknown>) => void;
}

export class InstanceRunner {
  readonly supervisor: Supervisor;
  private monitor: HealthMonitor | undefined;
  private healthy = false;
  private healthDetail = 'not started';
  private healthySince = Date.now();
  private warmup: NodeJS.Timeout | undefined;

  constructor(private readonly options: InstanceRunnerOptions) {
    this.supervisor = options.supervisor;
    this.supervisor.on('started', ({ adopted }) => {
      this.watchHealth();
      options.onChange();
      if (!adopted) return;
      options.onEvent(
        'instance.adopted',
        `${options.id} adopted (pid ${this.supervisor.status.pid})`,
      );
    });
    this.supervisor.on('exited', (exit) => {
      this.unwatchHealth('not running');
      const how = exit.signal
        ? `signal ${exit.signal}`
        : exit.code === null
          ? 'exit status unknown'
          : `exit ${exit.code}`;
      options.onEvent(
        'instance.exited',
        `${options.id} exited (${how})${exit.error ? `: ${exit.error}` : ''}`,
        {
          code: exit.code,
          signal: exit.signal,
          uptime_ms: exit.uptimeMs,
        },
      );
      options.onChange();
    });
    this.supervisor.on('restarting', () => options.onChange());
    this.supervisor.on('failed', ({ unstableStarts, reason }) => {
      options.onEvent(
        'instance.failed',
        `${options.id} failed: ${reason ?? `${unstableStarts} unstable starts in a row`}, no more restarts`,
      );
      options.onChange();
    });
    this.supervisor.on('stopped', () => options.onChange());
  }

  /** How long its latest health probe took (ms); undefined without a probe yet. */
  get healthLatencyMs(): number | undefined {
    return this.monitor?.latencyMs;
  }

  /** Changes whenever anything this runner was built from changes (process, health, ports…). */
  get fingerprint(): string {
    return this.options.fingerprint;
  }

  start(): Promise<void> {
    return this.supervisor.start();
  }

  async stop(): Promise<void> {
    this.unwatchHealth('stopped');
    await this.supervisor.stop();
  }

  /** Leaves the process running (the agent is going away; a new one will adopt it). */
  detach(): void {
    this.unwatchHealth('agent detached');
    this.supervisor.detach();
  }

  status(): InstanceStatus {
    const running = this.supervisor.status;
    const status: InstanceStatus = {
      id: this.options.id,
      service: this.options.service,
      state: running.state,
      healthy: this.healthy,
      // The latest probe's detail, so an instance that never turns healthy says why.
      health_detail: this.monitor?.current.detail ?? this.healthDetail,
      healthy_since: this.healthySince,
      restarts: running.restarts,
      ports: this.options.ports,
      spec_hash: this.supervisor.specHash,
    };
    if (this.options.release !== undefined) status.release = this.options.release;
    if (running.pid !== undefined) status.pid = running.pid;
    if (running.startedAt !== undefined) status.started_at = running.startedAt;
    if (running.error !== undefined) status.reason = running.error;
    if (running.container) status.container = running.container;
    if (running.lastExit) {
      const { code, signal, at } = running.lastExit;
      status.last_exit = { code, signal, at };
    }
    return status;
  }

  private setHealth(healthy: boolean, detail: string): void {
    const changed = healthy !== this.healthy;
    this.healthDetail = detail;
    if (!changed) return;
    this.healthy = healthy;
    this.healthySince = Date.now();
    this.options.onEvent(
      'health.changed',
      `${this.options.id} is ${healthy ? 'healthy' : `unhealthy: ${detail}`}`,
      {
        healthy,
      },
    );
  }

  private watchHealth(): void {
    this.unwatchHealth('starting');
    const check = this.options.health;
    const ownHealth = check ? undefined : this.options.ownHealth?.();
    if (!check && !ownHealth) {
      // No check declared: running is all we can know.
      this.setHealth(true, 'running (no health check)');
      return;
    }
    const onTransition = (state: HealthState) => {
      this.setHealth(state.healthy, state.detail);
      if (state.healthy) clearInterval(this.warmup);
      this.options.onChange();
    };
    if (check) this.monitor = monitorHealth(check, this.options.checkTarget, onTransition);
    else {
      // The runtime already applies its own retries (an image's HEALTHCHECK): one answer flips.
      this.monitor = new HealthMonitor({
        probe: ownHealth!,
        intervalMs: OWN_HEALTH_POLL_MS,
        healthyThreshold: 1,
        unhealthyThreshold: 1,
        onTransition,
      });
      this.monitor.start();
    }
    const until = Date.now() + WARMUP_WINDOW_MS;
    this.warmup = setInterval(() => {
      if (Date.now() > until) clearInterval(this.warmup);
      else this.monitor?.checkNow();
    }, WARMUP_PROBE_MS);
  }

  private unwatchHealth(detail: string): void {
    clearInterval(this.warmup);
    this.monitor?.stop();
    this.monitor = undefined;
    this.setHealth(false, detail);
  }
}
