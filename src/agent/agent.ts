// The agent: converges its node to the desired state, over and over. It takes from the hub
// only what the hub signed for this node (protocol/hub-inbox.ts) and keeps the last desired
// state on disk, still signed, so services keep running while the hub or bus is away. It
// starts instances once their dependencies are healthy (locally, or anywhere in the cluster
// as the hub's directory says), reports every change of its instances at once and otherwise
// only sends a heartbeat, and on a gateway node feeds Caddy the route config the hub computed.
import { chownSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { AgentLink } from '../bus/agent-link.ts';
import type { Reply } from '../bus/hub-link.ts';
import type { DesiredInstance } from '../plan/desired.ts';
import { startupWaves } from '../plan/order.ts';
import {
  directoryValueSchema,
  desiredValueSchema,
  gatewayValueSchema,
  type DesiredValue,
  type GatewayValue,
} from '../protocol/desired.ts';
import { HubInbox, NOTHING_HELD, type Accepted } from '../protocol/hub-inbox.ts';
import { HEARTBEAT_MS } from '../protocol/liveness.ts';
import { HubVerifier, RefusedMessage, signedSchema, type Signed } from '../protocol/signing.ts';
import {
  MAX_REFUSALS,
  reportHash,
  type InstanceStatus,
  type NodeStatus,
  type Refusal,
} from '../protocol/status.ts';
import type { ToNodeKind } from '../protocol/subjects.ts';
import { CaddyServer } from './gateway/caddy-server.ts';
import { InstanceRunner } from './instance-runner.ts';
import { portInUse } from './port-check.ts';
import { listInstanceRecords, specHash } from './process/instance-records.ts';
import { instanceLogFile, tailLog } from './process/log-files.ts';
import { stopRecordedInstance } from './process/terminate.ts';
import { resolveUser } from '../system/users.ts';
import { healthCheckFor, processSpecFor, type AgentPaths } from './process-spec.ts';
import type { ProcessSpec } from './process/supervisor.ts';
import type { HealthCheck } from '../spec/schema.ts';
import {
  removeAllSecretFiles,
  removeSecretFiles,
  secretFilesRoot,
  writeSecretFiles,
} from './secret-files.ts';
import { loadOrCreateIdentity, openWith } from '../secrets/store.ts';
import { configHash } from '../state/config-hash.ts';
import { cutConnections } from './gateway/cut-connections.ts';
import { updateHostsFile } from './hosts-file.ts';
import { resolvedJobSchema, type ResolvedJob } from '../backup/job.ts';
import { backupRequestSchema, NodeBackups } from '../backup/node-backups.ts';
import type { NetworkApplier } from './network-applier.ts';
import { SegmentEnforcer } from './segment-enforcer.ts';

const REPORT_DEBOUNCE_MS = 20;
/**
 * How often the agent retries what no event announces: an instance held back (a port taken,
 * a missing secret), a network that failed to apply or whose WireGuard daemon died. An idle
 * node with nothing held only re-checks its network, not every instance.
 */
const MAINTAIN_EVERY_MS = 5_000;
const ROLLING_HEALTH_TIMEOUT_MS = 60_000;

/** What the agent keeps of the hub's messages: the revisions it holds, and its desired state as signed. */
const savedStateSchema = z.object({
  held: z.object({
    desired: z.number().int().nonnegative(),
    gateway: z.number().int().nonnegative(),
    directory: z.number().int().nonnegative(),
  }),
  desired: signedSchema.nullable(),
});

export interface AgentOptions {
  node: string;
  link: AgentLink;
  /** The hub's public signing key: only what it signed for this node is acted on. */
  hubKey: string;
  /** The node's Flotilla state directory. */
  stateDir: string;
  /** The stack this node belongs to: a desired state for another is refused. */
  stack: string;
  /** On gateway nodes: the agent runs Caddy. */
  gateway?: boolean;
  /** In a cluster: applies the mesh and firewall the desired state carries. */
  network?: NetworkApplier;
  /** In a cluster: the hosts file that gets name → address entries (/etc/hosts). */
  hostsFile?: string;
  /** Called after the hub had this agent stop everything (`flotilla down`, `node rm`). */
  onLeft?: () => void;
  log: (line: string) => void;
}

/** An instance that has no process yet, and why. */
interface HeldInstance {
  instance: DesiredInstance;
  state: 'waiting' | 'failed';
  reason: string;
}

export class Agent {
  private readonly paths: AgentPaths;
  /** The hub's messages this agent holds (hub-inbox.ts), kept across restarts. */
  private readonly savedFile: string;
  private readonly inbox: HubInbox;
  private identity: { identity: string; recipient: string } | undefined;
  /** Values opened from the desired state's sealed secrets; never written anywhere. */
  private secretValues = new Map<string, string>();
  private desiredUpdates: Promise<void> = Promise.resolve();
  private desired: DesiredValue | undefined;
  private desiredSigned: Signed | null = null;
  /** The revision of the desired state last received, and the last one fully reconciled. */
  private desiredRevision = 0;
  private reconciledRevision = 0;
  private readonly runners = new Map<string, InstanceRunner>();
  private readonly held = new Map<string, HeldInstance>();
  /** Services with a healthy instance somewhere in the cluster, as the hub's directory says. */
  private healthyInCluster = new Set<string>();
  private caddy: CaddyServer | undefined;
  private gatewayStatus: NodeStatus['gateway'];
  private gatewayWanted: GatewayValue | undefined;
  /** Hash of the last config sent to Caddy, accepted or not: a rejected one isn't retried. */
  private gatewayAttempted: string | undefined;
  private gatewayLoading: Promise<void> | undefined;
  private readonly refused: Refusal[] = [];
  private timers: NodeJS.Timeout[] = [];
  private reportTimer: NodeJS.Timeout | undefined;
  /** What the last full report said (without its time): a heartbeat carries its hash. */
  private reportedHash = '';
  private reconciling: Promise<void> = Promise.resolve();
  private reconcileQueued = false;
  private closed = false;
  private subscription: { unsubscribe(): void } | undefined;
  private networkError: string | undefined;
  private readonly backups: NodeBackups;
  private hostsWritten: string | undefined;
  /** Network segments between this node's own services (cgroups and an nftables table). */
  private readonly segments = new SegmentEnforcer();

  constructor(private readonly options: AgentOptions) {
    const dir = path.join(options.stateDir, 'agent');
    this.paths = {
      instances: path.join(dir, 'instances'),
      logs: path.join(options.stateDir, 'logs'),
      secretFiles: secretFilesRoot(options.stateDir),
    };
    this.savedFile = path.join(dir, 'hub-state.json');
    this.inbox = new HubInbox(new HubVerifier(options.hubKey), options.node, {
      ...NOTHING_HELD,
    });
    this.backups = new NodeBackups({
      stateDir: options.stateDir,
      publish: (event) => options.link.event(event),
      log: options.log,
    });
  }

  get logDir(): string {
    return this.paths.logs;
  }

  /** This node's age recipient: the hub seals the node's secrets to it. */
  get recipient(): string {
    if (!this.identity) throw new Error('the agent has not started');
    return this.identity.recipient;
  }

  /** The node's backup jobs, opened; a job that does not open or parse is reported and skipped. */
  private async openBackupJobs(value: DesiredValue): Promise<ResolvedJob[]> {
    const jobs: ResolvedJob[] = [];
    for (const sealed of value.backups) {
      try {
        jobs.push(
          resolvedJobSchema.parse(JSON.parse(await openWith(this.identity!.identity, sealed))),
        );
      } catch {
        this.event('backup.unreadable', "a backup job is not sealed to this node's key");
      }
    }
    return jobs;
  }

  private async openSecrets(value: DesiredValue): Promise<void> {
    const opened = new Map<string, string>();
    for (const [name, sealed] of Object.entries(value.secrets)) {
      try {
        opened.set(name, await openWith(this.identity!.identity, sealed));
      } catch {
        this.event('secret.unreadable', `secret ${name} is not sealed to this node's key`);
      }
    }
    this.secretValues = opened;
  }

  async start(): Promise<void> {
    for (const dir of [this.paths.instances, this.paths.logs])
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.identity = await loadOrCreateIdentity(
      path.join(this.options.stateDir, 'agent', 'identity'),
    );
    if (this.segments.unavailable !== undefined)
      this.options.log(
        `network segments between this node's services are not enforced: ${this.segments.unavailable}`,
      );
    this.restoreSaved();
    if (this.desired) {
      await this.openSecrets(this.desired);
      void this.backups.replace(await this.openBackupJobs(this.desired));
    }
    if (this.options.gateway) await this.startGateway();
    if (this.desired) await this.reconcileSoon();
    this.subscription = this.options.link.listen((kind, signed) => this.receive(kind, signed));
    // Back from a cut: say so at once rather than at the next heartbeat.
    this.options.link.onReconnect(() => this.heartbeat());
    this.timers.push(
      setInterval(() => this.heartbeat(), HEARTBEAT_MS),
      setInterval(() => this.maintain(), MAINTAIN_EVERY_MS),
    );
    this.reportSoon();
  }

  /** Everything from the hub comes through here: checked, then acted on, or refused. */
  private receive(kind: ToNodeKind, signed: Signed | undefined): void {
    let accepted: Accepted;
    try {
      accepted = this.inbox.accept(kind, signed);
    } catch (error) {
      if (!(error instanceof RefusedMessage)) throw error;
      this.refuse(kind, error.message);
      return;
    }
    if (accepted.type === 'duplicate') return;
    if (accepted.type === 'request') {
      void this.answer(accepted.verb, accepted.body).then((reply) =>
        this.options.link.reply(accepted.id, reply),
      );
      return;
    }
    if (accepted.kind === 'gateway') {
      this.saveState();
      if (this.caddy) this.loadGateway(gatewayValueSchema.parse(accepted.body));
      else this.refuse('gateway', 'a gateway config for a node that runs no gateway');
      return;
    }
    if (accepted.kind === 'directory') {
      this.saveState();
      this.healthyInCluster = new Set(directoryValueSchema.parse(accepted.body).healthy);
      void this.reconcileSoon();
      return;
    }
    const value = desiredValueSchema.parse(accepted.body);
    if (value.stack !== this.options.stack) {
      this.refuse('desired', `a desired state of stack ${value.stack}, not ${this.options.stack}`);
      return;
    }
    const revision = accepted.revision;
    // Chained: a newer desired state must not be overtaken by an older one's secrets.
    this.desiredUpdates = this.desiredUpdates.then(async () => {
      await this.openSecrets(value);
      void this.backups.replace(await this.openBackupJobs(value));
      this.desired = value;
      this.desiredSigned = signed!;
      this.desiredRevision = revision;
      this.saveState();
      void this.reconcileSoon();
    });
  }

  /** Says why something from the hub was not acted on: in the log, the audit log and the status. */
  private refuse(what: string, reason: string): void {
    this.refused.push({ what, reason, at: Date.now() });
    if (this.refused.length > MAX_REFUSALS) this.refused.shift();
    this.event('hub.refused', `refused a ${what} message: ${reason}`);
    this.reportSoon();
  }

  /** The agent goes away and leaves every service running, for the next agent to adopt. */
  async detach(): Promise<void> {
    this.close();
    for (const runner of this.runners.values()) runner.detach();
    this.caddy?.detach();
    // Last: a running backup is let finish, and must not hold up the services.
    await this.backups.stop();
  }

  /** Stops every instance in reverse startup order (dependents first), then Caddy, then backups. */
  async stopAll(): Promise<void> {
    this.close();
    await this.reconciling;
    const byService = new Map<string, InstanceRunner[]>();
    for (const [id, runner] of this.runners) {
      const service = runner.status().service;
      byService.set(service, [...(byService.get(service) ?? []), runner]);
      this.runners.delete(id);
    }
    const graph = Object.fromEntries(
      (this.desired?.node.instances ?? []).map((instance) => [
        instance.service,
        instance.depends_on,
      ]),
    );
    for (const service of byService.keys()) graph[service] ??= [];
    for (const wave of startupWaves(graph).reverse()) {
      await Promise.all(
        wave.flatMap((service) => (byService.get(service) ?? []).map((runner) => runner.stop())),
      );
    }
    for (const record of listInstanceRecords(this.paths.instances))
      await stopRecordedInstance(this.paths.instances, record);
    if (this.desired?.node.segments)
      await this.segments
        .remove(this.desired.node.segments)
        .catch((error: Error) =>
          this.options.log(`the segment table could not be removed: ${error.message}`),
        );
    await this.caddy?.stop();
    removeAllSecretFiles(this.paths);
    this.sendFinalReport();
    // Last: a running backup is let finish, and must not hold up stopping the services.
    await this.backups.stop();
  }

  status(): NodeStatus {
    const instances: InstanceStatus[] = [...this.runners.values()].map((runner) => runner.status());
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
    const status: NodeStatus = {
      node: this.options.node,
      at: Date.now(),
      agent_pid: process.pid,
      desired_revision: this.reconciledRevision,
      instances: instances.sort((a, b) => (a.id < b.id ? -1 : 1)),
      refused: [...this.refused],
    };
    if (this.gatewayStatus) status.gateway = this.gatewayStatus;
    return status;
  }

  /** Restarts a service's instances on this node one at a time, each after the last is healthy. */
  async restartService(service: string): Promise<number> {
    const runners = [...this.runners.values()].filter(
      (runner) => runner.status().service === service,
    );
    for (const runner of runners) {
      await runner.stop();
      await runner.start();
      await this.untilHealthy(runner, ROLLING_HEALTH_TIMEOUT_MS);
    }
    return runners.length;
  }

  private close(): void {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.reportTimer);
    this.subscription?.unsubscribe();
  }

  private async untilHealthy(
    runner: InstanceRunner,
    timeoutMs: number,
    revision?: number,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (
      !this.closed &&
      (revision === undefined || revision === this.desiredRevision) &&
      !runner.status().healthy &&
      runner.status().state !== 'failed' &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops everything and forgets the desired state, so a restarted agent starts nothing. */
  private async leave(): Promise<{ stopped: number }> {
    const stopped = this.runners.size;
    await this.stopAll();
    this.desired = undefined;
    this.desiredSigned = null;
    this.saveState();
    setImmediate(() => this.options.onLeft?.());
    return { stopped };
  }

  /** The hub's request, carried out; its error's message goes back as the answer. */
  private async answer(verb: string, payload: unknown): Promise<Reply> {
    try {
      return { ok: true, result: await this.carryOut(verb, payload) };
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
  }

  private async carryOut(verb: string, payload: unknown): Promise<unknown> {
    if (verb === 'down') return this.leave();
    if (verb === 'status') {
      // The hub has no copy of the last report (it restarted): send it now.
      this.reportedHash = '';
      this.report();
      return {};
    }
    if (verb === 'backup') return this.backups.handle(backupRequestSchema.parse(payload));
    const request = z
      .object({ service: z.string(), lines: z.number().int().min(1).max(10_000).optional() })
      .parse(payload);
    if (verb === 'restart') return { restarted: await this.restartService(request.service) };
    if (verb === 'logs')
      return { lines: await this.serviceLogs(request.service, request.lines ?? 100) };
    throw new Error(`unknown request ${verb}`);
  }

  /** The last `count` lines of each of a service's instances on this node, prefixed by instance. */
  async serviceLogs(service: string, count: number): Promise<string[]> {
    const ids = (this.desired?.node.instances ?? [])
      .filter((instance) => instance.service === service)
      .map((instance) => instance.id);
    const lines: string[] = [];
    for (const id of ids) {
      for (const line of await tailLog(instanceLogFile(this.paths.logs, id), count).catch(() => []))
        lines.push(`${id} | ${line}`);
    }
    return lines;
  }

  private reconcileSoon(): Promise<void> {
    if (this.reconcileQueued || this.closed) return this.reconciling;
    this.reconcileQueued = true;
    this.reconciling = this.reconciling.then(async () => {
      this.reconcileQueued = false;
      if (this.closed) return;
      const revision = this.desiredRevision;
      try {
        await this.reconcile();
        this.reconciledRevision = revision;
      } catch (error) {
        this.options.log(`reconcile failed: ${(error as Error).message}`);
      }
      this.reportSoon();
    });
    return this.reconciling;
  }

  private maintain(): void {
    if (this.closed) return;
    if (this.held.size > 0 || this.networkError !== undefined) void this.reconcileSoon();
    else this.reconciling = this.reconciling.then(() => this.applyNetwork());
  }

  /** Mesh, firewall and names first: instances on other nodes are reached through them. */
  private async applyNetwork(): Promise<void> {
    const desired = this.desired;
    if (!desired) return;
    try {
      if (desired.network && this.options.network)
        await this.options.network.apply(desired.network);
      // Before any instance starts: a connection opened before the table exists stays open.
      if (desired.node.segments) await this.segments.apply(desired.node.segments);
      const hosts = configHash(desired.node.hosts);
      if (this.options.hostsFile && hosts !== this.hostsWritten) {
        await updateHostsFile(this.options.hostsFile, desired.stack, desired.node.hosts);
        this.hostsWritten = hosts;
      }
      this.networkError = undefined;
    } catch (error) {
      const message = `the node's network could not be applied: ${(error as Error).message}`;
      // Retried on every reconcile: say so once, not every two seconds.
      if (message !== this.networkError) this.event('network.failed', message);
      this.networkError = message;
    }
  }

  private async reconcile(): Promise<void> {
    // Without a desired state (a fresh node, or a saved one refused) nothing is known to be
    // unwanted: what runs keeps running until the hub says otherwise.
    if (!this.desired) return;
    await this.applyNetwork();
    const revision = this.desiredRevision;
    const replaced = new Map<string, InstanceRunner>();
    const instances = this.desired?.node.instances ?? [];
    const wanted = new Map(instances.map((instance) => [instance.id, instance]));
    for (const [id, runner] of this.runners) {
      if (wanted.has(id)) continue;
      this.runners.delete(id);
      this.event('instance.removed', `${id} is no longer desired: stopping it`);
      await runner.stop();
      removeSecretFiles(this.paths, id);
    }
    for (const id of this.held.keys()) if (!wanted.has(id)) this.held.delete(id);
    for (const record of listInstanceRecords(this.paths.instances)) {
      if (!wanted.has(record.id) && !this.runners.has(record.id))
        await stopRecordedInstance(this.paths.instances, record);
    }
    const recorded = new Set(listInstanceRecords(this.paths.instances).map((record) => record.id));
    for (const instance of instances) {
      let spec: ProcessSpec;
      let health: HealthCheck | undefined;
      try {
        spec = processSpecFor(instance, this.paths, (name) => this.secretValues.get(name));
        health = healthCheckFor(instance);
        const cgroup = this.segments.cgroupFor(
          instance.runtime.kind === 'process' ? instance.runtime.cgroup : undefined,
        );
        if (cgroup !== undefined) spec = { ...spec, cgroup };
      } catch (error) {
        this.hold(instance, 'failed', (error as Error).message);
        continue;
      }
      const running = this.runners.get(instance.id);
      // The process spec holds the rendered secrets; the rest of the instance is compared
      // as desired (a new health check or stop signal also replaces the instance).
      const fingerprint = configHash([
        specHash(spec),
        instance.health,
        instance.ports,
        instance.restart,
        instance.stop,
      ]);
      if (running && running.fingerprint === fingerprint) continue;
      // An instance still running from before (agent restart) is adopted at once; a new one
      // waits until every dependency has a healthy instance somewhere.
      const blocker =
        recorded.has(instance.id) || running ? undefined : this.unhealthyDependency(instance);
      if (blocker !== undefined) {
        this.hold(instance, 'waiting', `waiting for ${blocker} to be healthy`);
        continue;
      }
      // A replacement rolls: the next replica goes only once the previous one is healthy
      // again (or a newer desired state arrives: a stuck rollout must not block its fix).
      const previous = running ? replaced.get(instance.service) : undefined;
      if (previous) await this.untilHealthy(previous, ROLLING_HEALTH_TIMEOUT_MS, revision);
      if (running) {
        this.event('instance.replaced', `${instance.id} changed: restarting it`);
        await running.stop();
      } else if (!recorded.has(instance.id)) {
        const taken = await portInUse(Object.values(instance.ports));
        if (taken !== undefined) {
          this.hold(
            instance,
            'failed',
            `port ${taken} is already in use on this node by another program`,
          );
          continue;
        }
      }
      try {
        writeSecretFiles(this.paths, instance, (name) => this.secretValues.get(name));
      } catch (error) {
        this.hold(instance, 'failed', (error as Error).message);
        continue;
      }
      this.held.delete(instance.id);
      this.ensureDataDir(instance);
      const runner = new InstanceRunner({
        id: instance.id,
        service: instance.service,
        ports: instance.ports,
        spec,
        fingerprint,
        ...(health === undefined ? {} : { health }),
        onChange: () => {
          this.reportSoon();
          void this.reconcileSoon();
        },
        onEvent: (type, message, data) =>
          this.event(type, message, { instance: instance.id, service: instance.service, data }),
      });
      this.runners.set(instance.id, runner);
      await runner.start();
      if (running) replaced.set(instance.service, runner);
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
      this.event(
        state === 'failed' ? 'instance.failed' : 'instance.waiting',
        `${instance.id}: ${reason}`,
        { instance: instance.id, service: instance.service },
      );
    this.held.set(instance.id, { instance, state, reason });
  }

  /** The first dependency of `instance` with no healthy instance here or anywhere, if any. */
  private unhealthyDependency(instance: DesiredInstance): string | undefined {
    const healthy = new Set(this.healthyInCluster);
    for (const runner of this.runners.values()) {
      const status = runner.status();
      if (status.healthy) healthy.add(status.service);
    }
    return instance.depends_on.find((dependency) => !healthy.has(dependency));
  }

  private async startGateway(): Promise<void> {
    this.caddy = new CaddyServer({
      dir: path.join(this.options.stateDir, 'caddy'),
      stack: this.options.stack,
    });
    this.caddy.on('restarted', (pid: number) => {
      this.event(
        'gateway.restarted',
        `Caddy died and was restarted (pid ${pid}) with the last routes`,
      );
    });
    this.caddy.on('error', (error: Error) =>
      this.event('gateway.error', `Caddy: ${error.message}`),
    );
    await this.caddy.start();
    this.gatewayStatus = { ca_path: this.caddy.rootCertificatePath };
  }

  /** Loads arrive faster than Caddy applies them: one at a time, always the newest, once. */
  private loadGateway(value: GatewayValue): void {
    this.gatewayWanted = value;
    this.gatewayLoading ??= this.drainGatewayLoads().finally(
      () => (this.gatewayLoading = undefined),
    );
  }

  private async drainGatewayLoads(): Promise<void> {
    while (this.caddy && this.gatewayWanted && this.gatewayWanted.hash !== this.gatewayAttempted) {
      const value = this.gatewayWanted;
      this.gatewayAttempted = value.hash;
      try {
        // Cut before the reload, so no retry of an aborted request is left waiting when the
        // reload lands (Caddy 2.6 answers 502 to those).
        if (value.abandon.length > 0) await cutConnections(value.abandon);
        await this.caddy.load(value.config);
        this.gatewayStatus = { config_hash: value.hash, ca_path: this.caddy.rootCertificatePath };
      } catch (error) {
        const message = withHint(error);
        this.gatewayStatus = { ...this.gatewayStatus, error: message };
        this.event('gateway.rejected', message);
      }
      this.reportSoon();
    }
  }

  private event(
    type: string,
    message: string,
    extra: { instance?: string; service?: string; data?: Record<string, unknown> } = {},
  ): void {
    this.options.log(message);
    const event = { type, message, at: Date.now(), node: this.options.node, ...extra };
    if (event.data === undefined) delete event.data;
    // The bus may be away: the line above is in the agent's log, the event is lost.
    this.options.link.event(event);
  }

  private reportSoon(): void {
    if (this.reportTimer || this.closed) return;
    this.reportTimer = setTimeout(() => {
      this.reportTimer = undefined;
      this.report();
    }, REPORT_DEBOUNCE_MS);
  }

  /** A full report, when it says something the last one did not. */
  private report(): void {
    if (this.closed) return;
    const status = this.status();
    const hash = reportHash(status);
    if (hash === this.reportedHash) return;
    this.reportedHash = hash;
    this.options.link.status(status);
  }

  /** Alive, and what it holds; a change no event announced goes out as a full report instead. */
  private heartbeat(): void {
    if (this.closed) return;
    if (reportHash(this.status()) !== this.reportedHash) {
      this.report();
      return;
    }
    this.options.link.heartbeat({ status_hash: this.reportedHash, held: { ...this.inbox.held } });
  }

  /** The last report for the hub (the hub takes what it says after `down` as final). */
  private sendFinalReport(): void {
    this.reportedHash = '';
    this.options.link.status(this.status());
  }

  /** The saved desired state, if it still checks out against the hub's key; else nothing. */
  private restoreSaved(): void {
    let text: string;
    try {
      text = readFileSync(this.savedFile, 'utf8');
    } catch {
      return;
    }
    const saved = savedStateSchema.safeParse(JSON.parse(text) as unknown);
    if (!saved.success) {
      this.refuse('saved', `${this.savedFile} is not a saved hub state; waiting for the hub`);
      return;
    }
    Object.assign(this.inbox.held, saved.data.held);
    if (saved.data.desired === null) return;
    // Checked like a message from the hub: a file edited on this node is not the hub's word.
    const held = this.inbox.held.desired;
    this.inbox.held.desired = 0;
    try {
      const accepted = this.inbox.accept('desired', saved.data.desired);
      if (accepted.type !== 'state' || accepted.revision !== held)
        throw new RefusedMessage(`its revision is not the ${held} this node last accepted`);
      this.desired = desiredValueSchema.parse(accepted.body);
      this.desiredSigned = saved.data.desired;
      this.desiredRevision = accepted.revision;
    } catch (error) {
      this.inbox.held.desired = held;
      if (!(error instanceof RefusedMessage)) throw error;
      this.refuse('saved desired', error.message);
    }
  }

  private saveState(): void {
    const temporary = `${this.savedFile}.${process.pid}.tmp`;
    const state: z.infer<typeof savedStateSchema> = {
      held: { ...this.inbox.held },
      desired: this.desiredSigned,
    };
    writeFileSync(temporary, JSON.stringify(state), { mode: 0o600 });
    renameSync(temporary, this.savedFile);
  }
}

/** An error's message, and its hint when it has one (a port another stack holds, say). */
function withHint(error: unknown): string {
  const { message, hint } = error as { message: string; hint?: unknown };
  return typeof hint === 'string' ? `${message}\nhint: ${hint}` : message;
}
