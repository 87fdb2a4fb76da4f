// The hub: turns the stack into each node's desired state on the bus, and keeps every
// gateway's route config in step with the registry — only instances an agent reports
// healthy, recomputed the moment a status changes.
import path from 'node:path';
import type { DesiredValue, GatewayValue } from '../agent/agent.ts';
import { configHash } from '../agent/config-hash.ts';
import { nodeStatusSchema, type NodeStatus } from '../agent/status.ts';
import type { Bus } from '../bus/client.ts';
import type { Watch } from '../bus/kv.ts';
import { caddyKey, desiredKey, statusKey } from '../bus/subjects.ts';
import { adminListen, caddyConfig } from '../plan/caddy.ts';
import type { DesiredInstance, DesiredNode } from '../plan/desired.ts';
import { sealTo, type SecretStore } from '../secrets/store.ts';
import { createHash } from 'node:crypto';
import { allocateMeshAddresses } from '../plan/mesh-addresses.ts';
import { placeInstances } from '../plan/placement.ts';
import { planStack, type Plan } from '../plan/plan.ts';
import { routeTable, type RouteEntry } from '../plan/routes.ts';
import type { Stack } from '../spec/schema.ts';
import type { NodeNetwork } from '../mesh/node-network.ts';
import { backupJobsByNode } from './node-backup-jobs.ts';
import { NodeLiveness } from './node-liveness.ts';
import { healthyInstances, lostNodes, onlyHealthy } from './registry.ts';

/** How often the registry looks for nodes whose reports went stale. */
const STALENESS_CHECK_MS = 1_000;

export interface InstanceChange {
  node: string;
  instance: string;
  change: 'add' | 'remove' | 'update';
}

/** What a multi-node hub knows beyond the stack: which nodes joined, and their networks. */
export interface ClusterView {
  /** Only joined nodes get a desired state: the others have no key to seal secrets to yet. */
  joined(node: string): boolean;
  network(stack: Stack, plan: Plan, node: string): NodeNetwork;
}

export interface HubOptions {
  bus: Bus;
  /** Where secret values come from when a node needs them. */
  secrets: SecretStore;
  /** Each node's Flotilla state directory (the same path on every node). */
  stateDir: string;
  log: (line: string) => void;
  /** Absent on a single machine. */
  cluster?: ClusterView;
}

export interface AppliedStack {
  stack: Stack;
  stackDir: string;
}

export class Hub {
  /** The applied stack, its plan, and each gateway's full route table (filtered per update). */
  private current:
    { applied: AppliedStack; plan: Plan; routes: Map<string, RouteEntry[]> } | undefined;
  private readonly liveness = new NodeLiveness();
  /** What the gateway configs were last built from. */
  private published: { current: Hub['current']; basis: string } | undefined;
  /** Backup job → the node that runs it, as of the last apply. */
  private backupNodes = new Map<string, string>();
  private readonly statuses = new Map<string, NodeStatus>();
  private readonly written = new Map<string, string>();
  /** Per desired-bucket key, the revision of the hub's last write. */
  private readonly revisions = new Map<string, number>();
  /** node → its agent's age recipient: the key its secrets are sealed to. */
  private readonly recipients = new Map<string, string>();
  /** Sealing is randomized: reuse a sealed value while it is unchanged, so desired states stay stable. */
  private readonly sealed = new Map<string, string>();
  private watch: Watch | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: HubOptions) {}

  get stack(): Stack | undefined {
    return this.current?.applied.stack;
  }

  get plan(): Plan | undefined {
    return this.current?.plan;
  }

  nodeStatuses(): ReadonlyMap<string, NodeStatus> {
    return this.statuses;
  }

  async start(): Promise<void> {
    this.watch = await this.options.bus.status.watch('node.>', (change) => {
      if (change.kind !== 'put') return;
      const parsed = nodeStatusSchema.safeParse(change.value);
      if (!parsed.success) return;
      this.statuses.set(parsed.data.node, { ...parsed.data, at: Date.now() });
      void this.publishGateways();
    });
    this.timer = setInterval(() => {
      this.reportLiveness();
      void this.publishGateways();
    }, STALENESS_CHECK_MS);
  }

  private reportLiveness(): void {
    for (const { node, change, at } of this.liveness.update(this.statuses.values(), Date.now())) {
      const message =
        change === 'lost'
          ? `node ${node} is lost: no report since ${new Date(at).toISOString()}; its instances left the routes`
          : `node ${node} is back`;
      this.options.log(message);
      void this.options.bus.events
        .publish({ type: `node.${change}`, message, node, data: { last_report: at } })
        .catch(() => {});
    }
  }

  stop(): void {
    this.watch?.stop();
    clearInterval(this.timer);
  }

  setNodeRecipient(node: string, recipient: string): void {
    this.recipients.set(node, recipient);
  }

  /** Writes the current stack's desired states again: after a node joined or left. */
  async reapply(): Promise<void> {
    if (this.current) await this.apply(this.current.applied);
  }

  /** A node left the cluster: its desired state and status go, with its routes. */
  async forgetNode(node: string): Promise<void> {
    this.statuses.delete(node);
    this.liveness.forget(node);
    this.recipients.delete(node);
    this.written.delete(desiredKey(node));
    await this.options.bus.desired.delete(desiredKey(node)).catch(() => {});
    await this.options.bus.status.delete(statusKey(node)).catch(() => {});
    await this.reapply();
  }

  /** Writes every node's desired state; returns what changes for the agents. */
  async apply(applied: AppliedStack): Promise<InstanceChange[]> {
    const { stack, stackDir } = applied;
    const { cluster } = this.options;
    const plan = planStack(stack, { stackDir, stateDir: this.options.stateDir });
    const changes = diffDesired(this.current?.plan, plan);
    // Route tables depend only on the stack: computed here once, not on every status change.
    const instances = placeInstances(stack);
    const meshAddresses = allocateMeshAddresses(stack);
    const routes = new Map(
      Object.keys(stack.nodes)
        .filter((node) => stack.nodes[node]!.gateway)
        .map((gateway) => [gateway, routeTable(stack, instances, meshAddresses, gateway)] as const),
    );
    this.current = { applied, plan, routes };
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
      await this.putIfChanged(desiredKey(node), value, configHash(value));
    }
    await this.publishGateways();
    return changes;
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

  /** The revision of `node`'s desired state the hub last wrote: an agent reporting it has converged. */
  desiredRevision(node: string): number {
    return this.revisions.get(desiredKey(node)) ?? 0;
  }

  /** The config hash the hub last wrote for `gateway`: compared with what its agent serves. */
  gatewayHash(gateway: string): string | undefined {
    return this.written.get(caddyKey(gateway));
  }

  private async publishGateways(): Promise<void> {
    if (!this.current) return;
    const now = Date.now();
    const healthy = healthyInstances(this.statuses.values(), now);
    const lost = lostNodes(this.statuses.values(), now);
    // Reports arrive twice a second per node and rarely change who is healthy: build the
    // configs only when that (or the applied stack) changed.
    const basis = `${[...healthy].sort().join(',')}|${[...lost].sort().join(',')}`;
    if (this.published?.current === this.current && this.published.basis === basis) return;
    const { current } = this;
    const { stack } = current.applied;
    let written = true;
    for (const [gateway, node] of Object.entries(stack.nodes)) {
      if (!node.gateway) continue;
      const routes = current.routes.get(gateway) ?? [];
      const config = caddyConfig(onlyHealthy(routes, healthy), {
        httpPort: stack.gateway.http_port,
        httpsPort: stack.gateway.https_port,
        adminListen: adminListen(stack.gateway.admin_port),
        storageDir: path.join(this.options.stateDir, 'caddy', 'storage'),
        ...(stack.gateway.acme_email === undefined ? {} : { acmeEmail: stack.gateway.acme_email }),
      });
      const abandon = routes
        .flatMap((route) => route.upstreams)
        .filter((upstream) => lost.has(upstream.node))
        .map((upstream) => upstream.dial);
      const value: GatewayValue = {
        hash: configHash(config),
        config,
        abandon: [...new Set(abandon)].sort(),
      };
      written = (await this.putIfChanged(caddyKey(gateway), value, value.hash)) && written;
    }
    // A failed write is retried on the next report or tick.
    if (written) this.published = { current, basis };
  }

  /** Writes a key of the desired bucket only when its content changed (agents act on every put). */
  private async putIfChanged(key: string, value: unknown, hash: string): Promise<boolean> {
    if (this.written.get(key) === hash) return true;
    try {
      this.revisions.set(key, await this.options.bus.desired.put(key, value));
      this.written.set(key, hash);
      return true;
    } catch (error) {
      this.options.log(`could not write ${key}: ${(error as Error).message}`);
      return false;
    }
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
