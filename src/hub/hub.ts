// The hub: turns the stack into each node's desired state and sends it, signed for that
// node, and keeps every gateway's route config and every node's directory in step with the
// registry — only instances an agent reports healthy, recomputed the moment a report
// changes. A node's reports are taken as that node's only because they arrive on its own
// subject (bus permissions); what a report claims about its sender is checked against it.
import { configHash } from '../state/config-hash.ts';
import type { Bus } from '../bus/client.ts';
import type { HubLink } from '../bus/hub-link.ts';
import { caddyOptions, gatewayState } from '../plan/caddy.ts';
import type { DesiredInstance, DesiredNode } from '../plan/desired.ts';
import type { DesiredValue, DirectoryValue, GatewayValue } from '../protocol/desired.ts';
import { busEventSchema } from '../protocol/events.ts';
import { nodeMetricsSchema, type NodeMetrics } from '../protocol/node-metrics.ts';
import { LIVENESS_CHECK_MS } from '../protocol/liveness.ts';
import {
  heartbeatSchema,
  nodeStatusSchema,
  reportHash,
  type NodeStatus,
} from '../protocol/status.ts';
import type { FromNodeKind } from '../protocol/subjects.ts';
import { sealTo, type SecretStore } from '../secrets/store.ts';
import { createHash } from 'node:crypto';
import { allocateMeshAddresses } from '../plan/mesh-addresses.ts';
import { placeInstances } from '../plan/placement.ts';
import { planStack, type Plan } from '../plan/plan.ts';
import { routeTable, type RouteEntry } from '../plan/routes.ts';
import type { StackReleases } from '../plan/release-variants.ts';
import type { Stack } from '../spec/schema.ts';
import type { NodeNetwork } from '../protocol/node-network.ts';
import { pinImages, resolveImagePins, type ImagePins } from './image-pins.ts';
import { backupJobsByNode } from './node-backup-jobs.ts';
import { NodeLiveness } from './node-liveness.ts';
import { Outbox } from './outbox.ts';
import { healthyInstances, healthyServices, lostNodes, onlyHealthy } from './registry.ts';

export type ReceivedNodeMetrics = NodeMetrics & { receivedAt: number };

export interface InstanceChange {
  node: string;
  instance: string;
  change: 'add' | 'remove' | 'update';
}

export interface ApplyResult {
  changes: InstanceChange[];
  /** What the operator should know about this apply (an image left unpinned, and why). */
  notes: string[];
}

/** What a multi-node hub knows beyond the stack: which nodes joined, and their networks. */
export interface ClusterView {
  /** Only joined nodes get a desired state: the others have no key to seal secrets to yet. */
  joined(node: string): boolean;
  /** Each joined node's state dir, where its services' data lives. */
  stateDirs(): Record<string, string>;
  network(stack: Stack, plan: Plan, node: string): NodeNetwork;
}

export interface HubOptions {
  bus: Bus;
  link: HubLink;
  /** Where secret values come from when a node needs them. */
  secrets: SecretStore;
  /** Each node's Flotilla state directory (the same path on every node). */
  stateDir: string;
  log: (line: string) => void;
  /** Absent on a single machine. */
  cluster?: ClusterView;
  /** Deployed services' releases (deploy/deployer.ts): what each instance runs. */
  releases?: () => StackReleases;
}

export interface AppliedStack {
  stack: Stack;
  stackDir: string;
}

export class Hub {
  /** The applied stack, its plan, and each gateway's full route table (filtered per update). */
  private current:
    | { applied: AppliedStack; plan: Plan; pins: ImagePins; routes: Map<string, RouteEntry[]> }
    | undefined;
  private readonly liveness = new NodeLiveness();
  /** What the gateway configs and directories were last built from. */
  private published: { current: Hub['current']; basis: string } | undefined;
  /** Backup job → the node that runs it, as of the last apply. */
  private backupNodes = new Map<string, string>();
  /** Each node's last full report; `at` is when the hub last heard from the node at all. */
  private readonly statuses = new Map<string, NodeStatus>();
  private readonly reportHashes = new Map<string, string>();
  /** Each node's last measurements (host, mesh round trips), with when they arrived. */
  private readonly metrics = new Map<string, ReceivedNodeMetrics>();
  /** When the hub last asked a node for a full report (it has none, or a stale one). */
  private readonly askedForReport = new Map<string, number>();
  private readonly outbox: Outbox;
  /** node → its agent's age recipient: the key its secrets are sealed to. */
  private readonly recipients = new Map<string, string>();
  /** Sealing is randomized: reuse a sealed value while it is unchanged, so desired states stay stable. */
  private readonly sealed = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  /** A gateway config or directory could not be recorded: the next tick tries again. */
  private derivedUnsent = false;
  private publishing: Promise<void> | undefined;
  /** Applies run one at a time (see apply). */
  private applying: Promise<unknown> = Promise.resolve();
  private publishAgain = false;
  private readonly reportListeners = new Set<() => void>();

  constructor(private readonly options: HubOptions) {
    this.outbox = new Outbox(options.bus, options.link, options.log);
  }

  get stack(): Stack | undefined {
    return this.current?.applied.stack;
  }

  get plan(): Plan | undefined {
    return this.current?.plan;
  }

  nodeStatuses(): ReadonlyMap<string, NodeStatus> {
    return this.statuses;
  }

  nodeMetrics(): ReadonlyMap<string, ReceivedNodeMetrics> {
    return this.metrics;
  }

  /** Nodes whose reports went stale (lost), as routing sees them now. */
  lostNodes(): Set<string> {
    return lostNodes(this.statuses.values(), Date.now());
  }

  start(): void {
    this.options.link.listen({
      onMessage: (kind, node, value) => this.receive(kind, node, value),
      onInvalid: (kind, node, why) => this.options.log(`ignored a ${kind} from ${node}: ${why}`),
    });
    // Reports rebuild routes and directories as they arrive; the timer only finds nodes that
    // went silent (or came back).
    let lastTick = Date.now();
    this.timer = setInterval(() => {
      const now = Date.now();
      const late = now - lastTick > 2 * LIVENESS_CHECK_MS;
      lastTick = now;
      // A late tick means the hub itself was busy (a big apply): the heartbeats that arrived
      // meanwhile are still queued behind this timer, so judging silence now would call
      // every node lost. The next tick, after they are read, judges.
      if (late) return;
      if (this.reportLiveness() || this.derivedUnsent) void this.publishDerived();
    }, LIVENESS_CHECK_MS);
  }

  /** What the protocol has carried each way since the hub started. */
  busTraffic(): ReturnType<HubLink['traffic']> {
    return this.options.link.traffic();
  }

  /** Calls `listener` after each full report a node sends; returns its removal. */
  onReport(listener: () => void): () => void {
    this.reportListeners.add(listener);
    return () => this.reportListeners.delete(listener);
  }

  /** Whether every gateway reports serving the route config and upstreams last sent to it. */
  gatewaysServeLatest(): boolean {
    const stack = this.current?.applied.stack;
    if (!stack) return true;
    return Object.entries(stack.nodes).every(
      ([gateway, node]) =>
        !node.gateway ||
        !this.recipients.has(gateway) ||
        this.statuses.get(gateway)?.gateway?.config_hash === this.outbox.hash(gateway, 'gateway'),
    );
  }

  /** Asks `node`'s agent to do `verb` (see Agent for the verbs). */
  request(node: string, verb: string, body: unknown, timeoutMs?: number): Promise<unknown> {
    return this.options.link.request(node, verb, body, timeoutMs);
  }

  private receive(kind: FromNodeKind, node: string, value: unknown): void {
    // Only members (and, on one machine, the stack's node) are listened to.
    const known = this.recipients.has(node);
    if (!known) return;
    const now = Date.now();
    if (kind === 'event') {
      const event = busEventSchema.safeParse(value);
      if (!event.success) return this.options.log(`ignored an invalid event from ${node}`);
      void this.options.bus.events.publish(event.data, { node }).catch(() => {});
      return;
    }
    if (kind === 'metrics') {
      const metrics = nodeMetricsSchema.safeParse(value);
      if (!metrics.success) return this.options.log(`ignored invalid node metrics from ${node}`);
      this.metrics.set(node, { ...metrics.data, receivedAt: now });
      return;
    }
    if (kind === 'heartbeat') {
      const heartbeat = heartbeatSchema.safeParse(value);
      if (!heartbeat.success) return this.options.log(`ignored an invalid heartbeat from ${node}`);
      const status = this.statuses.get(node);
      if (status && this.reportHashes.get(node) === heartbeat.data.status_hash) {
        status.at = now;
      } else if (now - (this.askedForReport.get(node) ?? 0) > 1_000) {
        // The hub restarted, or missed a report: ask for a full one.
        this.askedForReport.set(node, now);
        void this.request(node, 'status', {}).catch(() => {});
      }
      this.outbox.catchUp(node, heartbeat.data.held, now);
      return;
    }
    const status = nodeStatusSchema.safeParse(value);
    if (!status.success) return this.options.log(`ignored an invalid status report from ${node}`);
    if (status.data.node !== node) {
      this.options.log(
        `ignored a status report from ${node} that claims to be from ${status.data.node}`,
      );
      return;
    }
    this.reportHashes.set(node, reportHash(value as object));
    this.statuses.set(node, { ...status.data, at: now });
    void this.publishDerived();
    for (const listener of this.reportListeners) listener();
  }

  /** Announces nodes lost or back since the last call; true when there were any. */
  private reportLiveness(): boolean {
    const changes = this.liveness.update(this.statuses.values(), Date.now());
    for (const { node, change, at } of changes) {
      const message =
        change === 'lost'
          ? `node ${node} is lost: no report since ${new Date(at).toISOString()}; its instances left the routes`
          : `node ${node} is back`;
      this.options.log(message);
      void this.options.bus.events
        .publish({ type: `node.${change}`, message, node, data: { last_report: at } })
        .catch(() => {});
    }
    return changes.length > 0;
  }

  stop(): void {
    this.options.link.close();
    clearInterval(this.timer);
  }

  setNodeRecipient(node: string, recipient: string): void {
    this.recipients.set(node, recipient);
  }

  /** Writes the current stack's desired states again: after a node joined or left. */
  async reapply(): Promise<void> {
    // The stack current when its turn comes, not now: an apply queued before it wins.
    await this.oneAtATime(async () => {
      if (this.current) await this.applyNow(this.current.applied);
    });
  }

  /** A node left the cluster: what it was sent and what it reported go, with its routes. */
  async forgetNode(node: string): Promise<void> {
    this.statuses.delete(node);
    this.reportHashes.delete(node);
    this.metrics.delete(node);
    this.liveness.forget(node);
    this.recipients.delete(node);
    await this.outbox.forget(node);
    await this.reapply();
  }

  /**
   * Writes every node's desired state; returns what changes for the agents. One apply at a
   * time: two overlapping ones (a join's and the CLI's) could otherwise each finish sending
   * a node's desired state, the older one last, under the newer revision.
   */
  apply(applied: AppliedStack): Promise<ApplyResult> {
    return this.oneAtATime(() => this.applyNow(applied));
  }

  private oneAtATime<T>(work: () => Promise<T>): Promise<T> {
    const result = this.applying.then(work);
    this.applying = result.catch(() => undefined);
    return result;
  }

  private async applyNow(applied: AppliedStack): Promise<ApplyResult> {
    const { stack, stackDir } = applied;
    const { cluster } = this.options;
    const releases = this.options.releases?.();
    const planned = this.planWith(applied, releases);
    // Images are resolved once per apply: a join's reapply keeps the digests nodes run.
    const pins =
      this.current?.applied === applied
        ? this.current.pins
        : await resolveImagePins(planned.desired, (names) => this.options.secrets.values(names));
    const plan = { ...planned, desired: pinImages(planned.desired, pins) };
    const changes = diffDesired(this.current?.plan, plan);
    // Route tables depend only on the stack: computed here once, not on every status change.
    const instances = placeInstances(stack);
    const meshAddresses = allocateMeshAddresses(stack);
    const routes = new Map(
      Object.keys(stack.nodes)
        .filter((node) => stack.nodes[node]!.gateway)
        .map(
          (gateway) =>
            [gateway, routeTable(stack, instances, meshAddresses, gateway, releases)] as const,
        ),
    );
    this.current = { applied, plan, pins, routes };
    const jobs = await backupJobsByNode(
      stack,
      plan,
      stackDir,
      this.options.secrets,
      this.options.log,
    );
    this.backupNodes = new Map(
      [...jobs].flatMap(([node, nodeJobs]) => nodeJobs.map((job) => [job.name, node] as const)),
    );
    const sends: Promise<boolean>[] = [];
    for (const [node, desired] of Object.entries(plan.desired)) {
      if (cluster && !cluster.joined(node)) continue;
      const value: DesiredValue = {
        stack: stack.name,
        node: desired,
        secrets: await this.sealFor(node, desired),
        backups: await Promise.all(
          (jobs.get(node) ?? []).map((job) => this.sealCached(node, JSON.stringify(job))),
        ),
        ...(cluster ? { network: cluster.network(stack, plan, node) } : {}),
      };
      // Sent as soon as built, without waiting for the previous node's record: nodes start
      // converging together rather than one bus round trip apart.
      sends.push(this.outbox.send(node, 'desired', value, configHash(value)));
    }
    await Promise.all(sends);
    await this.publishDerived();
    return { changes, notes: pins.unpinned };
  }

  private planWith(applied: AppliedStack, releases: StackReleases | undefined): Plan {
    const { cluster } = this.options;
    return planStack(applied.stack, {
      stackDir: applied.stackDir,
      stateDir: this.options.stateDir,
      ...(cluster ? { nodeStateDirs: cluster.stateDirs() } : {}),
      ...(releases && { releases }),
    });
  }

  /** The current stack's desired states as they would be with `releases` (not sent). */
  desiredWith(releases: StackReleases): Record<string, DesiredNode> | undefined {
    return this.current && this.planWith(this.current.applied, releases).desired;
  }

  /** The secrets `node`'s instances use, each sealed to that node's key only. */
  private async sealFor(node: string, desired: DesiredNode): Promise<Record<string, string>> {
    const names = new Set(desired.instances.flatMap((instance) => instance.secrets));
    if (names.size === 0) return {};
    const result: Record<string, string> = {};
    for (const [name, value] of await this.options.secrets.values(names))
      result[name] = await this.sealCached(node, value);
    return result;
  }

  /** `value` sealed to `node`'s key, reusing an earlier sealing of the same value. */
  private async sealCached(node: string, value: string): Promise<string> {
    const recipient = this.recipients.get(node);
    if (recipient === undefined) throw new Error(`node ${node} has no key to seal its secrets to`);
    const key = `${recipient}\0${createHash('sha256').update(value).digest('hex')}`;
    let sealed = this.sealed.get(key);
    if (sealed === undefined) {
      sealed = await sealTo(recipient, value);
      this.sealed.set(key, sealed);
    }
    return sealed;
  }

  /** Each gateway's route table with only healthy upstreams (as the hub sees them now). */
  liveRoutes(gateway: string): RouteEntry[] {
    const routes = this.current?.routes.get(gateway) ?? [];
    return onlyHealthy(routes, healthyInstances(this.statuses.values(), Date.now()));
  }

  backupNode(job: string): string | undefined {
    return this.backupNodes.get(job);
  }

  /** The revision of `node`'s desired state the hub last sent: an agent reporting it has converged. */
  desiredRevision(node: string): number {
    return this.outbox.revision(node, 'desired');
  }

  /** The config hash the hub last sent `gateway`: compared with what its agent serves. */
  gatewayHash(gateway: string): string | undefined {
    return this.outbox.hash(gateway, 'gateway');
  }

  /**
   * One publish at a time: reports that arrive meanwhile ask for one more, built from the
   * newest state. Overlapping publishes each found their content not yet sent and sent it
   * again (at 100 simulated nodes, 97 % of the directories during an apply were repeats).
   */
  private publishDerived(): Promise<void> {
    if (this.publishing) {
      this.publishAgain = true;
      return this.publishing;
    }
    this.publishing = (async () => {
      do {
        this.publishAgain = false;
        await this.publishDerivedOnce();
      } while (this.publishAgain);
    })().finally(() => (this.publishing = undefined));
    return this.publishing;
  }

  /** Gateway configs and directories: both follow who is healthy and who is lost. */
  private async publishDerivedOnce(): Promise<void> {
    if (!this.current) return;
    const now = Date.now();
    const healthy = healthyInstances(this.statuses.values(), now);
    const lost = lostNodes(this.statuses.values(), now);
    // Reports rarely change who is healthy: rebuild only when that (or the stack) changed.
    const basis = `${[...healthy].sort().join(',')}|${[...lost].sort().join(',')}`;
    if (this.published?.current === this.current && this.published.basis === basis) return;
    const { current } = this;
    const sent = await Promise.all([
      this.publishGateways(current, healthy, lost),
      this.publishDirectories(current.plan, healthyServices(this.statuses.values(), now)),
    ]);
    this.derivedUnsent = !sent.every(Boolean);
    if (!this.derivedUnsent) this.published = { current, basis };
  }

  private async publishGateways(
    current: NonNullable<Hub['current']>,
    healthy: ReadonlySet<string>,
    lost: ReadonlySet<string>,
  ): Promise<boolean> {
    const { stack } = current.applied;
    let sent = true;
    for (const [gateway, node] of Object.entries(stack.nodes)) {
      if (!node.gateway || !this.recipients.has(gateway)) continue;
      const routes = current.routes.get(gateway) ?? [];
      // Who is healthy goes in `upstreams`, which the gateway answers by DNS: the config (a
      // Caddy reload) changes only with the routes, or when a route has no healthy instance.
      const { config, upstreams } = gatewayState(
        routes,
        (upstream) => healthy.has(upstream.instance),
        caddyOptions(stack),
      );
      const abandon = routes
        .flatMap((route) => route.upstreams)
        .filter((upstream) => lost.has(upstream.node))
        .map((upstream) => upstream.dial);
      const value: GatewayValue = {
        hash: configHash({ config, upstreams }),
        config,
        upstreams,
        abandon: [...new Set(abandon)].sort(),
      };
      sent = (await this.outbox.send(gateway, 'gateway', value, value.hash)) && sent;
    }
    return sent;
  }

  /** Each node learns which of the services it depends on are healthy somewhere. */
  private async publishDirectories(plan: Plan, healthy: ReadonlySet<string>): Promise<boolean> {
    let sent = true;
    for (const [node, desired] of Object.entries(plan.desired)) {
      if (!this.recipients.has(node)) continue;
      const needed = new Set(desired.instances.flatMap((instance) => instance.depends_on));
      const value: DirectoryValue = {
        healthy: [...needed].filter((service) => healthy.has(service)).sort(),
      };
      sent = (await this.outbox.send(node, 'directory', value, configHash(value))) && sent;
    }
    return sent;
  }
}

function instancesById(plan: Plan | undefined): Map<string, DesiredInstance> {
  const result = new Map<string, DesiredInstance>();
  for (const node of Object.values(plan?.desired ?? {}))
    for (const instance of node.instances) result.set(`${instance.node}/${instance.id}`, instance);
  return result;
}

export function diffDesired(before: Plan | undefined, after: Plan): InstanceChange[] {
  const old = instancesById(before);
  const next = instancesById(after);
  const changes: InstanceChange[] = [];
  for (const [key, instance] of next) {
    const previous = old.get(key);
    if (!previous) changes.push({ node: instance.node, instance: instance.id, change: 'add' });
    else if (JSON.stringify(previous) !== JSON.stringify(instance))
      changes.push({ node: instance.node, instance: instance.id, change: 'update' });
  }
  for (const [key, instance] of old)
    if (!next.has(key))
      changes.push({ node: instance.node, instance: instance.id, change: 'remove' });
  return changes;
}
