// Converges this node's instances to its desired state. Instances no longer desired stop;
// new ones start once every dependency has a healthy instance somewhere (here, or in the
// cluster as the hub's directory says); changed ones are replaced one replica at a time,
// the next only once the last is healthy again. What cannot start yet is held with a
// reason (waiting, failed) that the node's status shows. How an instance runs (a process,
// a container) is its runtime's business (runtime/instance-runtime.ts).
import { chownSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { DesiredInstance } from '../plan/desired.ts';
import { startupWaves } from '../plan/order.ts';
import type { InstanceStatus } from '../protocol/status.ts';
import type { HealthCheck } from '../spec/schema.ts';
import { configHash } from '../state/config-hash.ts';
import { resolveUser } from '../system/users.ts';
import { InstanceRunner } from './instance-runner.ts';
import { portInUse } from './port-check.ts';
import {
  healthCheckFor,
  InstanceSpecError,
  type AgentPaths,
  type SecretLookup,
} from './process-spec.ts';
import type { InstanceRuntime, PreparedInstance } from './runtime/instance-runtime.ts';
import { removeSecretFiles, writeSecretFiles } from './secret-files.ts';

const ROLLING_HEALTH_TIMEOUT_MS = 60_000;
const HEALTH_WAIT_POLL_MS = 50;

type RuntimeKind = DesiredInstance['runtime']['kind'];

export type AgentEvent = (
  type: string,
  message: string,
  extra?: { instance?: string; service?: string; data?: Record<string, unknown> },
) => void;

export interface ReconcilerOptions {
  paths: AgentPaths;
  /** The runtimes this node has; an instance of another kind is held as failed. */
  runtimes: Partial<Record<RuntimeKind, InstanceRuntime>>;
  event: AgentEvent;
  /** An instance changed (started, exited, turned healthy…): report, and reconcile again. */
  changed: () => void;
}

/** What one pass needs besides the instances: secrets, and who is healthy elsewhere. */
export interface ReconcileContext {
  secrets: SecretLookup;
  /** Services with a healthy instance somewhere in the cluster, as the hub's directory says. */
  healthyInCluster: ReadonlySet<string>;
  /** False once a newer desired state arrived: a stuck rollout must not block its fix. */
  current: () => boolean;
}

/** An instance that has no process yet, and why. */
interface HeldInstance {
  instance: DesiredInstance;
  state: 'waiting' | 'failed';
  reason: string;
}

export class Reconciler {
  private readonly runners = new Map<string, InstanceRunner>();
  private readonly held = new Map<string, HeldInstance>();
  private closed = false;

  constructor(private readonly options: ReconcilerOptions) {}

  /** Something waits for what no event announces (a port freed, a secret set): retry later. */
  get holding(): boolean {
    return this.held.size > 0;
  }

  get running(): number {
    return this.runners.size;
  }

  /** Each running instance's latest health probe duration (ms), where it has one. */
  healthLatencies(): { id: string; health_latency_ms?: number }[] {
    return [...this.runners].map(([id, runner]) => {
      const latency = runner.healthLatencyMs;
      return latency === undefined ? { id } : { id, health_latency_ms: latency };
    });
  }

  instances(): InstanceStatus[] {
    const instances = [...this.runners.values()].map((runner) => runner.status());
    for (const [id, held] of this.held) {
      if (this.runners.has(id)) continue;
      instances.push({
        id,
        service: held.instance.service,
        state: held.state,
        reason: held.reason,
        healthy: false,
        health_detail: held.reason,
        healthy_since: 0,
        restarts: 0,
        ports: held.instance.ports,
        spec_hash: '',
      });
    }
    return instances.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async reconcile(instances: DesiredInstance[], context: ReconcileContext): Promise<void> {
    const wanted = new Map(instances.map((instance) => [instance.id, instance]));
    for (const [id, runner] of this.runners) {
      if (wanted.has(id)) continue;
      this.runners.delete(id);
      this.options.event('instance.removed', `${id} is no longer desired: stopping it`);
      await runner.stop();
      removeSecretFiles(this.options.paths, id);
    }
    for (const id of this.held.keys()) if (!wanted.has(id)) this.held.delete(id);
    const leftovers = new Set<string>();
    for (const runtime of Object.values(this.options.runtimes)) {
      for (const id of await runtime.leftovers()) {
        if (!wanted.has(id) && !this.runners.has(id)) await runtime.stopLeftover(id);
        else leftovers.add(id);
      }
    }
    // Services converge side by side (a start waits on disk and process spawns, not on the
    // other services); each service's own replicas go in order, so a replacement rolls.
    const byService = new Map<string, DesiredInstance[]>();
    for (const instance of instances)
      byService.set(instance.service, [...(byService.get(instance.service) ?? []), instance]);
    await Promise.all(
      [...byService.values()].map(async (replicas) => {
        let replacement: InstanceRunner | undefined;
        for (const instance of replicas) {
          if (this.closed || !context.current()) return;
          const leftOver = leftovers.has(instance.id);
          replacement =
            (await this.converge(instance, context, leftOver, replacement)) ?? replacement;
        }
      }),
    );
  }

  /** One instance: left alone, held, started, or replaced (returns the replacement). */
  private async converge(
    instance: DesiredInstance,
    context: ReconcileContext,
    leftOver: boolean,
    /** This service's replica replaced last in this pass: the next waits for it. */
    lastReplacement: InstanceRunner | undefined,
  ): Promise<InstanceRunner | undefined> {
    let prepared: PreparedInstance;
    let health: HealthCheck | undefined;
    try {
      const runtime = this.options.runtimes[instance.runtime.kind];
      if (!runtime)
        throw new InstanceSpecError(
          `${instance.id} is a ${instance.runtime.kind}, and this node has no ${instance.runtime.kind} runtime`,
        );
      prepared = runtime.prepare(instance, context.secrets);
      health = healthCheckFor(instance);
    } catch (error) {
      this.hold(instance, 'failed', (error as Error).message);
      return undefined;
    }
    const running = this.runners.get(instance.id);
    // The spec hash covers the rendered secrets; the rest of the instance is compared as
    // desired (a new health check or stop signal also replaces the instance).
    const fingerprint = configHash([
      prepared.specHash,
      instance.health,
      instance.ports,
      instance.restart,
      instance.stop,
    ]);
    if (running && running.fingerprint === fingerprint) return undefined;
    // An instance still running from before (agent restart) is adopted at once; a new one
    // waits until every dependency has a healthy instance somewhere.
    const blocker =
      leftOver || running
        ? undefined
        : this.unhealthyDependency(instance, context.healthyInCluster);
    if (blocker !== undefined) {
      this.hold(instance, 'waiting', `waiting for ${blocker} to be healthy`);
      return undefined;
    }
    // A replacement rolls: the next replica goes only once the previous one is healthy again.
    if (running && lastReplacement)
      await this.untilHealthy(lastReplacement, ROLLING_HEALTH_TIMEOUT_MS, context.current);
    if (running) {
      this.options.event('instance.replaced', `${instance.id} changed: restarting it`);
      await running.stop();
    } else if (!leftOver) {
      const taken = await portInUse(Object.values(instance.ports));
      if (taken !== undefined) {
        this.hold(
          instance,
          'failed',
          `port ${taken} is already in use on this node by another program`,
        );
        return undefined;
      }
    }
    try {
      writeSecretFiles(this.options.paths, instance, context.secrets);
    } catch (error) {
      this.hold(instance, 'failed', (error as Error).message);
      return undefined;
    }
    this.held.delete(instance.id);
    this.ensureDataDir(instance);
    const runner = new InstanceRunner({
      id: instance.id,
      service: instance.service,
      ports: instance.ports,
      ...(instance.release && { release: instance.release.number }),
      supervisor: prepared.supervise(),
      checkTarget: prepared.checkTarget,
      ...(prepared.ownHealth && { ownHealth: prepared.ownHealth }),
      fingerprint,
      ...(health === undefined ? {} : { health }),
      onChange: this.options.changed,
      onEvent: (type, message, data) =>
        this.options.event(type, message, {
          instance: instance.id,
          service: instance.service,
          data,
        }),
    });
    this.runners.set(instance.id, runner);
    await runner.start();
    return running ? runner : undefined;
  }

  /** Restarts a service's instances on this node one at a time, each after the last is healthy. */
  async restartService(service: string): Promise<number> {
    const runners = [...this.runners.values()].filter(
      (runner) => runner.status().service === service,
    );
    for (const runner of runners) {
      await runner.stop();
      await runner.start();
      await this.untilHealthy(runner, ROLLING_HEALTH_TIMEOUT_MS, () => !this.closed);
    }
    return runners.length;
  }

  /**
   * Stops every instance in reverse startup order (dependents first), then whatever an
   * earlier agent left running, then the runtimes' networks; nothing starts again afterwards.
   */
  async stopAll(dependencies: Record<string, string[]>): Promise<void> {
    this.closed = true;
    const byService = new Map<string, InstanceRunner[]>();
    for (const [id, runner] of this.runners) {
      const service = runner.status().service;
      byService.set(service, [...(byService.get(service) ?? []), runner]);
      this.runners.delete(id);
    }
    const graph = { ...dependencies };
    for (const service of byService.keys()) graph[service] ??= [];
    for (const wave of startupWaves(graph).reverse()) {
      await Promise.all(
        wave.flatMap((service) => (byService.get(service) ?? []).map((runner) => runner.stop())),
      );
    }
    for (const runtime of Object.values(this.options.runtimes)) {
      for (const id of await runtime.leftovers()) await runtime.stopLeftover(id);
      await runtime.removeNetworks?.();
    }
  }

  /** Leaves every instance running, for the next agent to adopt. */
  detach(): void {
    this.closed = true;
    for (const runner of this.runners.values()) runner.detach();
  }

  private async untilHealthy(
    runner: InstanceRunner,
    timeoutMs: number,
    current: () => boolean,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (
      current() &&
      !runner.status().healthy &&
      runner.status().state !== 'failed' &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, HEALTH_WAIT_POLL_MS));
    }
  }

  /** `${data}` exists before the service starts, owned by the user it runs as. */
  private ensureDataDir(instance: DesiredInstance): void {
    // The parent stays traversable so a service user (postgres) can reach its own dir.
    mkdirSync(path.dirname(instance.data_dir), { recursive: true, mode: 0o755 });
    mkdirSync(instance.data_dir, { recursive: true, mode: 0o700 });
    const user = instance.runtime.kind === 'process' ? instance.runtime.user : undefined;
    if (user !== undefined) {
      const { uid, gid } = resolveUser(user);
      chownSync(instance.data_dir, uid, gid);
    }
  }

  private hold(instance: DesiredInstance, state: HeldInstance['state'], reason: string): void {
    const previous = this.held.get(instance.id);
    if (previous?.reason !== reason)
      this.options.event(
        state === 'failed' ? 'instance.failed' : 'instance.waiting',
        `${instance.id}: ${reason}`,
        { instance: instance.id, service: instance.service },
      );
    this.held.set(instance.id, { instance, state, reason });
  }

  /** The first dependency of `instance` with no healthy instance here or anywhere, if any. */
  private unhealthyDependency(
    instance: DesiredInstance,
    healthyInCluster: ReadonlySet<string>,
  ): string | undefined {
    const healthy = new Set(healthyInCluster);
    for (const runner of this.runners.values()) {
      const status = runner.status();
      if (status.healthy) healthy.add(status.service);
    }
    return instance.depends_on.find((dependency) => !healthy.has(dependency));
  }
}
