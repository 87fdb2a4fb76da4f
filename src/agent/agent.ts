// The agent: converges its node to the desired state, over and over. It takes from the hub
// only what the hub signed for this node (protocol/hub-inbox.ts) and keeps the last desired
// state on disk, still signed (saved-hub-state.ts), so services keep running while the hub
// or bus is away. The work is split by job: the reconciler starts and stops instances
// through their runtime, the network keeper applies the mesh, firewall and names, the
// gateway feeder drives Caddy, and the status reporter tells the hub what changed.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { AgentLink } from '../bus/agent-link.ts';
import type { Reply } from '../bus/hub-link.ts';
import { resolvedJobSchema, type ResolvedJob } from '../backup/job.ts';
import { backupRequestSchema, NodeBackups } from '../backup/node-backups.ts';
import {
  directoryValueSchema,
  desiredValueSchema,
  gatewayValueSchema,
  type DesiredValue,
} from '../protocol/desired.ts';
import { parseCheckRequest } from '../monitoring/check-request.ts';
import { runCheck } from '../monitoring/checks/run-check.ts';
import { HubInbox, NOTHING_HELD, type Accepted } from '../protocol/hub-inbox.ts';
import { HubVerifier, RefusedMessage, type Signed } from '../protocol/signing.ts';
import { MAX_REFUSALS, type NodeStatus, type Refusal } from '../protocol/status.ts';
import type { ToNodeKind } from '../protocol/subjects.ts';
import { loadOrCreateIdentity, openWith } from '../secrets/store.ts';
import { HostMetricsReader } from '../system/host-metrics.ts';
import { GatewayFeeder } from './gateway/gateway-feeder.ts';
import { meshPeers } from './mesh-pinger.ts';
import type { NetworkApplier } from './network-applier.ts';
import { NetworkKeeper } from './network-keeper.ts';
import { NodeMetricsReporter } from './node-metrics-reporter.ts';
import { followLog, instanceLogFile, tailLog, type LogFollower } from './process/log-files.ts';
import type { AgentPaths } from './process-spec.ts';
import { Reconciler, type AgentEvent } from './reconciler.ts';
import { ContainerRuntime } from './runtime/container-runtime.ts';
import { ProcessRuntime } from './runtime/process-runtime.ts';
import { SavedHubState } from './saved-hub-state.ts';
import { removeAllSecretFiles, secretFilesRoot } from './secret-files.ts';
import { NodeReleases } from './node-releases.ts';
import { PortRedirector } from './port-redirector.ts';
import { SegmentEnforcer } from './segment-enforcer.ts';
import { StatusReporter } from './status-reporter.ts';

/**
 * How often the agent retries what no event announces: an instance held back (a port taken,
 * a missing secret), a network that failed to apply or whose WireGuard daemon died. An idle
 * node with nothing held only re-checks its network, not every instance.
 */
const MAINTAIN_EVERY_MS = 5_000;

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
  /**
   * The Docker Engine socket image services run through (default: FLOTILLA_DOCKER_SOCKET,
   * else /var/run/docker.sock). Without an engine there, they are held as failed with a hint.
   */
  dockerSocket?: string;
  /** Called after the hub had this agent stop everything (`flotilla down`, `node rm`). */
  onLeft?: () => void;
  log: (line: string) => void;
}

export class Agent {
  private readonly paths: AgentPaths;
  private readonly inbox: HubInbox;
  private readonly saved: SavedHubState;
  private readonly reporter: StatusReporter;
  private readonly metrics: NodeMetricsReporter;
  private readonly reconciler: Reconciler;
  private readonly network: NetworkKeeper;
  /** Network segments between this node's own services (cgroups and an nftables table). */
  private readonly segments = new SegmentEnforcer();
  private readonly redirects: PortRedirector;
  private readonly releases: NodeReleases;
  private readonly backups: NodeBackups;
  private readonly containers: ContainerRuntime;
  private gateway: GatewayFeeder | undefined;
  private identity: { identity: string; recipient: string } | undefined;
  /** Values opened from the desired state's sealed secrets; never written anywhere. */
  private secretValues = new Map<string, string>();
  private desiredUpdates: Promise<void> = Promise.resolve();
  private desired: DesiredValue | undefined;
  private desiredSigned: Signed | null = null;
  /** The revision of the desired state last received, and the last one fully reconciled. */
  private desiredRevision = 0;
  private reconciledRevision = 0;
  /** Services with a healthy instance somewhere in the cluster, as the hub's directory says. */
  private healthyInCluster = new Set<string>();
  private readonly refused: Refusal[] = [];
  private maintainTimer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> = Promise.resolve();
  private reconcileQueued = false;
  private closed = false;
  private subscription: { unsubscribe(): void } | undefined;

  constructor(private readonly options: AgentOptions) {
    const dir = path.join(options.stateDir, 'agent');
    this.paths = {
      instances: path.join(dir, 'instances'),
      logs: path.join(options.stateDir, 'logs'),
      secretFiles: secretFilesRoot(options.stateDir),
    };
    this.inbox = new HubInbox(new HubVerifier(options.hubKey), options.node, {
      ...NOTHING_HELD,
    });
    this.saved = new SavedHubState(path.join(dir, 'hub-state.json'), this.inbox);
    this.reporter = new StatusReporter(
      options.link,
      () => this.status(),
      () => ({ ...this.inbox.held }),
    );
    this.metrics = new NodeMetricsReporter({
      send: (metrics) => options.link.sendMetrics(metrics),
      host: new HostMetricsReader({ diskPath: options.stateDir }),
      peers: () => meshPeers(this.desired?.network),
      instances: () => this.reconciler.healthLatencies(),
      routes: () => this.gateway?.traffic(),
      log: options.log,
    });
    const dockerSocket = options.dockerSocket ?? process.env.FLOTILLA_DOCKER_SOCKET;
    this.containers = new ContainerRuntime({
      stack: options.stack,
      node: options.node,
      paths: this.paths,
      log: options.log,
      ...(dockerSocket !== undefined && { socketPath: dockerSocket }),
    });
    this.reconciler = new Reconciler({
      paths: this.paths,
      runtimes: {
        process: new ProcessRuntime(this.paths, this.segments),
        container: this.containers,
      },
      event: this.event,
      changed: () => {
        this.reporter.soon();
        void this.reconcileSoon();
      },
    });
    this.redirects = new PortRedirector(options.stack);
    this.releases = new NodeReleases(options.stateDir, this.paths);
    this.network = new NetworkKeeper({
      redirects: this.redirects,
      ...(options.network && { network: options.network }),
      ...(options.hostsFile !== undefined && { hostsFile: options.hostsFile }),
      segments: this.segments,
      event: this.event,
    });
    this.backups = new NodeBackups({
      stateDir: options.stateDir,
      publish: (event) => options.link.event(event),
      log: options.log,
    });
  }

  /** This node's age recipient: the hub seals the node's secrets to it. */
  get recipient(): string {
    if (!this.identity) throw new Error('the agent has not started');
    return this.identity.recipient;
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
    const restored = this.saved.restore((what, reason) => this.refuse(what, reason));
    if (restored) {
      this.desired = restored.value;
      this.desiredSigned = restored.signed;
      this.desiredRevision = restored.revision;
      await this.openSecrets(restored.value);
      void this.backups.replace(await this.openBackupJobs(restored.value));
    }
    if (this.options.gateway) {
      this.gateway = new GatewayFeeder({
        dir: path.join(this.options.stateDir, 'caddy'),
        stack: this.options.stack,
        event: this.event,
        changed: () => this.reporter.soon(),
      });
      await this.gateway.start();
    }
    if (this.desired) await this.reconcileSoon();
    this.subscription = this.options.link.listen((kind, signed) => this.receive(kind, signed));
    this.maintainTimer = setInterval(() => this.maintain(), MAINTAIN_EVERY_MS);
    this.reporter.start();
    this.metrics.start();
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
      this.saved.saveSoon(this.desiredSigned);
      if (this.gateway) this.gateway.load(gatewayValueSchema.parse(accepted.body));
      else this.refuse('gateway', 'a gateway config for a node that runs no gateway');
      return;
    }
    if (accepted.kind === 'directory') {
      this.saved.saveSoon(this.desiredSigned);
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
      this.saved.save(this.desiredSigned);
      void this.reconcileSoon();
    });
  }

  /** Says why something from the hub was not acted on: in the log, the audit log and the status. */
  private refuse(what: string, reason: string): void {
    this.refused.push({ what, reason, at: Date.now() });
    if (this.refused.length > MAX_REFUSALS) this.refused.shift();
    this.event('hub.refused', `refused a ${what} message: ${reason}`);
    this.reporter.soon();
  }

  /** The agent goes away and leaves every service running, for the next agent to adopt. */
  async detach(): Promise<void> {
    this.close();
    this.reconciler.detach();
    this.containers.close();
    this.gateway?.detach();
    // Last: a running backup is let finish, and must not hold up the services.
    await this.backups.stop();
  }

  /** Stops every instance in reverse startup order (dependents first), then Caddy, then backups. */
  async stopAll(): Promise<void> {
    this.close();
    await this.reconciling;
    const dependencies = Object.fromEntries(
      (this.desired?.node.instances ?? []).map((instance) => [
        instance.service,
        instance.depends_on,
      ]),
    );
    await this.reconciler.stopAll(dependencies);
    this.containers.close();
    if (this.desired?.node.segments)
      await this.segments
        .remove(this.desired.node.segments)
        .catch((error: Error) =>
          this.options.log(`the segment table could not be removed: ${error.message}`),
        );
    await this.redirects
      .remove()
      .catch((error: Error) =>
        this.options.log(`the port redirects could not be removed: ${error.message}`),
      );
    await this.gateway?.stop();
    removeAllSecretFiles(this.paths);
    this.reporter.final();
    // Last: a running backup is let finish, and must not hold up stopping the services.
    await this.backups.stop();
  }

  status(): NodeStatus {
    const status: NodeStatus = {
      node: this.options.node,
      at: Date.now(),
      agent_pid: process.pid,
      desired_revision: this.reconciledRevision,
      instances: this.reconciler.instances(),
      refused: [...this.refused],
    };
    const gateway = this.gateway?.status;
    if (gateway) status.gateway = gateway;
    return status;
  }

  private close(): void {
    this.closed = true;
    clearInterval(this.maintainTimer);
    this.reporter.close();
    this.metrics.stop();
    this.subscription?.unsubscribe();
    this.saved.flush();
  }

  /** Stops everything and forgets the desired state, so a restarted agent starts nothing. */
  private async leave(): Promise<{ stopped: number }> {
    const stopped = this.reconciler.running;
    await this.stopAll();
    this.desired = undefined;
    this.desiredSigned = null;
    this.saved.save(null);
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
      this.reporter.resend();
      return {};
    }
    if (verb === 'backup') return this.backups.handle(backupRequestSchema.parse(payload));
    if (verb === 'release.chunk') return this.releases.receive(payload);
    if (verb === 'release.prepare') return this.releases.prepare(payload);
    if (verb === 'release.run')
      return this.releases.runOnce(payload, (name) => this.secretValues.get(name));
    // Signed by the hub, and still only what the schema allows (http(s), no body, small headers).
    if (verb === 'monitor.check') {
      const caPath = this.gateway?.status?.ca_path;
      return runCheck(
        parseCheckRequest(payload),
        caPath === undefined ? {} : { gatewayCaFile: caPath },
      );
    }
    const request = z
      .object({ service: z.string(), lines: z.number().int().min(1).max(10_000).optional() })
      .parse(payload);
    if (verb === 'restart')
      return { restarted: await this.reconciler.restartService(request.service) };
    if (verb === 'logs')
      return { lines: await this.serviceLogs(request.service, request.lines ?? 100) };
    throw new Error(`unknown request ${verb}`);
  }

  /** The last `count` lines of each of a service's instances on this node, prefixed by instance. */
  private async serviceLogs(service: string, count: number): Promise<string[]> {
    const instances = (this.desired?.node.instances ?? []).filter(
      (instance) => instance.service === service,
    );
    const lines: string[] = [];
    for (const { id, runtime } of instances) {
      const history =
        runtime.kind === 'container'
          ? this.containers.logs(id, count)
          : tailLog(instanceLogFile(this.paths.logs, id), count);
      for (const line of await history.catch(() => [])) lines.push(`${id} | ${line}`);
    }
    return lines;
  }

  /** `flotilla logs -f` for one instance here: its container's output, or its log file. */
  followInstanceLog(
    id: string,
    onLines: (lines: string[]) => void,
    options: { lines?: number } = {},
  ): LogFollower {
    const instance = this.desired?.node.instances.find((candidate) => candidate.id === id);
    return instance?.runtime.kind === 'container'
      ? this.containers.followLogs(id, onLines, options)
      : followLog(instanceLogFile(this.paths.logs, id), onLines, options);
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
      this.reporter.soon();
    });
    return this.reconciling;
  }

  private maintain(): void {
    if (this.closed) return;
    if (this.reconciler.holding || this.network.failed) void this.reconcileSoon();
    else
      this.reconciling = this.reconciling.then(async () => {
        if (this.desired) await this.network.apply(this.desired);
      });
  }

  private async reconcile(): Promise<void> {
    // Without a desired state (a fresh node, or a saved one refused) nothing is known to be
    // unwanted: what runs keeps running until the hub says otherwise.
    const desired = this.desired;
    if (!desired) return;
    // Segments and names before instances start; mesh and firewall alongside (network-keeper),
    // unless a container publishes on the mesh address: it cannot bind one not yet there.
    const network = this.network.applyNew(desired);
    const onMesh = desired.node.instances.some(
      ({ runtime }) => runtime.kind === 'container' && runtime.publish_address !== undefined,
    );
    await (onMesh ? network.done : network.local);
    const revision = this.desiredRevision;
    await this.reconciler.reconcile(desired.node.instances, {
      secrets: (name) => this.secretValues.get(name),
      healthyInCluster: this.healthyInCluster,
      current: () => !this.closed && revision === this.desiredRevision,
    });
    await network.done;
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

  private readonly event: AgentEvent = (type, message, extra = {}) => {
    this.options.log(message);
    const event = { type, message, at: Date.now(), node: this.options.node, ...extra };
    if (event.data === undefined) delete event.data;
    // The bus may be away: the line above is in the agent's log, the event is lost.
    this.options.link.event(event);
  };
}
