// A simulated agent for bench/cluster-sim: the real protocol with no processes behind it.
// It speaks through the real AgentLink on its own node's NATS connection and credentials,
// checks every message with the real HubInbox (signature, node, revision, replay), and on the
// wire behaves like src/agent/agent.ts: it starts its desired instances once their
// dependencies are healthy here or (as the hub's directory says) anywhere, reports them
// running and then healthy after a delay, sends a full report when its status changes and
// otherwise a heartbeat every HEARTBEAT_MS, answers the hub's requests on its reply subject,
// and on a gateway node takes route configs and reports serving them (no Caddy).
//
// Left out, as nothing of it reaches the bus: processes, ports, secrets, files, the network,
// the saved hub state and the 5 s local safety-net reconcile.
import { createHash } from 'node:crypto';
import type { NatsConnection, Subscription } from 'nats';
import { AgentLink } from '../../src/bus/agent-link.ts';
import type { Reply } from '../../src/bus/hub-link.ts';
import type { DesiredInstance } from '../../src/plan/desired.ts';
import {
  desiredValueSchema,
  directoryValueSchema,
  gatewayValueSchema,
  type DesiredValue,
} from '../../src/protocol/desired.ts';
import { HubInbox, NOTHING_HELD, type Accepted } from '../../src/protocol/hub-inbox.ts';
import { HEARTBEAT_MS } from '../../src/protocol/liveness.ts';
import {
  HubVerifier,
  RefusedMessage,
  type Signed,
  type StateKind,
} from '../../src/protocol/signing.ts';
import {
  MAX_REFUSALS,
  reportHash,
  type InstanceStatus,
  type NodeStatus,
  type Refusal,
} from '../../src/protocol/status.ts';
import type { ToNodeKind } from '../../src/protocol/subjects.ts';
import { configHash } from '../../src/state/config-hash.ts';

/** The agent's own report debounce (src/agent/agent.ts). */
const REPORT_DEBOUNCE_MS = 20;

export interface GatewayArrival {
  at: number;
  /** Every upstream `host:port` the config routes to. */
  dials: ReadonlySet<string>;
}

export interface SimAgentOptions {
  node: string;
  connection: NatsConnection;
  hubKey: string;
  stack: string;
  gateway: boolean;
  /** How long a started instance takes to pass its first health check. */
  healthyAfterMs: number;
  /** A fake PID range of its own, so reports differ between nodes as real ones do. */
  pidBase: number;
  onGateway?: (arrival: GatewayArrival) => void;
}

/** What crossed the wire, for the bench's sanity checks. */
export interface SimAgentCounts {
  received: Record<ToNodeKind | 'duplicate', number>;
  /** State messages under a new revision whose content was what the agent already held. */
  unchanged: Record<StateKind, number>;
  refused: number;
  reports: number;
  heartbeats: number;
  events: number;
}

interface SimInstance {
  fingerprint: string;
  status: InstanceStatus;
  timer: NodeJS.Timeout | undefined;
}

export class SimAgent {
  private readonly link: AgentLink;
  private readonly inbox: HubInbox;
  private subscription: Subscription | undefined;
  private desired: DesiredValue | undefined;
  private desiredRevision = 0;
  private reconciledRevision = 0;
  private readonly running = new Map<string, SimInstance>();
  private readonly held = new Map<string, { instance: DesiredInstance; reason: string }>();
  private healthyInCluster = new Set<string>();
  private gatewayStatus: NodeStatus['gateway'];
  private readonly refused: Refusal[] = [];
  private reportedHash = '';
  /** The content of the last state message of each kind (configHash of its body). */
  private readonly heldContent: Partial<Record<StateKind, string>> = {};
  private reportTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconcileQueued = false;
  private nextPid: number;
  /** Cut off: sends nothing and hears nothing, as behind a dead link. */
  private cut = false;
  private cutAfterHeartbeat: (() => void) | undefined;
  private closed = false;
  readonly counts: SimAgentCounts = {
    received: { desired: 0, gateway: 0, directory: 0, request: 0, duplicate: 0 },
    unchanged: { desired: 0, gateway: 0, directory: 0 },
    refused: 0,
    reports: 0,
    heartbeats: 0,
    events: 0,
  };

  constructor(private readonly options: SimAgentOptions) {
    this.link = new AgentLink(options.connection, options.node);
    this.inbox = new HubInbox(new HubVerifier(options.hubKey), options.node, { ...NOTHING_HELD });
    this.nextPid = options.pidBase;
  }

  get node(): string {
    return this.options.node;
  }

  start(): void {
    this.subscription = this.link.listen((kind, signed) => this.receive(kind, signed));
    // Real agents start at different moments: their heartbeats are not in step.
    const phase = Math.random() * HEARTBEAT_MS;
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
      this.heartbeat();
    }, phase);
    this.reportSoon();
  }

  /** Its link goes dead: nothing out, nothing in (the server drops what the hub sends it). */
  /**
   * Its link goes dead now, or right after its next heartbeat: the worst moment for the hub,
   * which then hears nothing for the longest. Resolves with the time it went dead.
   */
  cutOff(afterHeartbeat = false): Promise<number> {
    if (!afterHeartbeat) return Promise.resolve(this.cutNow());
    return new Promise((resolve) => {
      this.cutAfterHeartbeat = () => resolve(this.cutNow());
    });
  }

  private cutNow(): number {
    this.cut = true;
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    return Date.now();
  }

  /** The link is back: it listens again and says so at once, as the agent does on reconnect. */
  async reconnect(): Promise<number> {
    this.subscription = this.link.listen((kind, signed) => this.receive(kind, signed));
    await this.options.connection.flush();
    this.cut = false;
    const at = Date.now();
    this.heartbeat();
    return at;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reportTimer);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.heartbeatTimer);
    for (const instance of this.running.values()) clearTimeout(instance.timer);
    this.subscription?.unsubscribe();
  }

  private receive(kind: ToNodeKind, signed: Signed | undefined): void {
    if (this.cut || this.closed) return;
    let accepted: Accepted;
    try {
      accepted = this.inbox.accept(kind, signed);
    } catch (error) {
      if (!(error instanceof RefusedMessage)) throw error;
      this.refuse(kind, error.message);
      return;
    }
    if (accepted.type === 'duplicate') {
      this.counts.received.duplicate += 1;
      return;
    }
    if (accepted.type === 'request') {
      this.counts.received.request += 1;
      this.link.reply(accepted.id, this.answer(accepted.verb));
      return;
    }
    this.counts.received[accepted.kind] += 1;
    const content = configHash(accepted.body);
    if (this.heldContent[accepted.kind] === content) this.counts.unchanged[accepted.kind] += 1;
    this.heldContent[accepted.kind] = content;
    if (accepted.kind === 'gateway') {
      if (!this.options.gateway) {
        this.refuse('gateway', 'a gateway config for a node that runs no gateway');
        return;
      }
      const value = gatewayValueSchema.parse(accepted.body);
      const dials = new Set(
        [...JSON.stringify(value.config).matchAll(/"dial":"([^"]+)"/g)].map((match) => match[1]!),
      );
      this.options.onGateway?.({ at: Date.now(), dials });
      this.gatewayStatus = {
        config_hash: value.hash,
        ca_path: '/var/lib/flotilla/caddy/storage/pki/authorities/local/root.crt',
      };
      this.reportSoon();
      return;
    }
    if (accepted.kind === 'directory') {
      this.healthyInCluster = new Set(directoryValueSchema.parse(accepted.body).healthy);
      this.reconcileSoon();
      return;
    }
    const value = desiredValueSchema.parse(accepted.body);
    if (value.stack !== this.options.stack) {
      this.refuse('desired', `a desired state of stack ${value.stack}, not ${this.options.stack}`);
      return;
    }
    this.desired = value;
    this.desiredRevision = accepted.revision;
    this.reconcileSoon();
  }

  private answer(verb: string): Reply {
    if (verb === 'status') {
      // The hub has no copy of the last report: send it now.
      this.reportedHash = '';
      this.report();
    } else if (verb === 'down') {
      const stopped = this.running.size;
      for (const instance of this.running.values()) clearTimeout(instance.timer);
      this.running.clear();
      this.held.clear();
      this.desired = undefined;
      this.reportSoon();
      return { ok: true, result: { stopped } };
    }
    return { ok: true, result: {} };
  }

  private refuse(what: string, reason: string): void {
    this.counts.refused += 1;
    this.refused.push({ what, reason, at: Date.now() });
    if (this.refused.length > MAX_REFUSALS) this.refused.shift();
    this.event('hub.refused', `refused a ${what} message: ${reason}`);
    this.reportSoon();
  }

  private reconcileSoon(): void {
    if (this.reconcileQueued || this.closed) return;
    this.reconcileQueued = true;
    setImmediate(() => {
      this.reconcileQueued = false;
      if (!this.closed) this.reconcile();
    });
  }

  private reconcile(): void {
    if (!this.desired) return;
    const revision = this.desiredRevision;
    const wanted = new Map(this.desired.node.instances.map((instance) => [instance.id, instance]));
    for (const [id, instance] of this.running) {
      if (wanted.has(id)) continue;
      clearTimeout(instance.timer);
      this.running.delete(id);
      this.event('instance.removed', `${id} is no longer desired: stopping it`);
    }
    for (const id of this.held.keys()) if (!wanted.has(id)) this.held.delete(id);
    for (const instance of wanted.values()) {
      const fingerprint = configHash(instance);
      const running = this.running.get(instance.id);
      if (running?.fingerprint === fingerprint) continue;
      const blocker = running ? undefined : this.unhealthyDependency(instance);
      if (blocker !== undefined) {
        this.hold(instance, `waiting for ${blocker} to be healthy`);
        continue;
      }
      if (running) {
        clearTimeout(running.timer);
        this.event('instance.replaced', `${instance.id} changed: restarting it`);
      }
      this.held.delete(instance.id);
      this.launch(instance, fingerprint);
    }
    this.reconciledRevision = revision;
    this.reportSoon();
  }

  /** "Starts" an instance: running at once, healthy once its first check would pass. */
  private launch(instance: DesiredInstance, fingerprint: string): void {
    const now = Date.now();
    const status: InstanceStatus = {
      id: instance.id,
      service: instance.service,
      state: 'running',
      pid: this.nextPid++,
      healthy: false,
      health_detail: 'not checked yet',
      healthy_since: now,
      started_at: now,
      restarts: 0,
      ports: instance.ports,
      spec_hash: createHash('sha256').update(JSON.stringify(instance.runtime)).digest('hex'),
    };
    const simulated: SimInstance = { fingerprint, status, timer: undefined };
    simulated.timer = setTimeout(() => {
      status.healthy = true;
      status.health_detail = 'HTTP 200';
      status.healthy_since = Date.now();
      this.event('health.changed', `${instance.id} is healthy`, instance, { healthy: true });
      this.reportSoon();
      // Local dependents may start now.
      this.reconcileSoon();
    }, this.options.healthyAfterMs);
    this.running.set(instance.id, simulated);
  }

  private hold(instance: DesiredInstance, reason: string): void {
    if (this.held.get(instance.id)?.reason !== reason)
      this.event('instance.waiting', `${instance.id}: ${reason}`, instance);
    this.held.set(instance.id, { instance, reason });
  }

  private unhealthyDependency(instance: DesiredInstance): string | undefined {
    const healthy = new Set(this.healthyInCluster);
    for (const running of this.running.values())
      if (running.status.healthy) healthy.add(running.status.service);
    return instance.depends_on.find((dependency) => !healthy.has(dependency));
  }

  status(): NodeStatus {
    const instances: InstanceStatus[] = [...this.running.values()].map(({ status }) => ({
      ...status,
    }));
    for (const [id, { instance, reason }] of this.held) {
      if (this.running.has(id)) continue;
      instances.push({
        id,
        service: instance.service,
        state: 'waiting',
        reason,
        healthy: false,
        health_detail: reason,
        healthy_since: 0,
        restarts: 0,
        ports: instance.ports,
        spec_hash: '',
      });
    }
    const status: NodeStatus = {
      node: this.options.node,
      at: Date.now(),
      agent_pid: this.options.pidBase,
      desired_revision: this.reconciledRevision,
      instances: instances.sort((a, b) => (a.id < b.id ? -1 : 1)),
      refused: [...this.refused],
    };
    if (this.gatewayStatus) status.gateway = this.gatewayStatus;
    return status;
  }

  private event(
    type: string,
    message: string,
    instance?: DesiredInstance,
    data?: Record<string, unknown>,
  ): void {
    if (this.cut || this.closed) return;
    this.counts.events += 1;
    this.link.event({
      type,
      message,
      at: Date.now(),
      node: this.options.node,
      ...(instance ? { instance: instance.id, service: instance.service } : {}),
      ...(data ? { data } : {}),
    });
  }

  private reportSoon(): void {
    if (this.reportTimer || this.closed) return;
    this.reportTimer = setTimeout(() => {
      this.reportTimer = undefined;
      this.report();
    }, REPORT_DEBOUNCE_MS);
  }

  private report(): void {
    if (this.cut || this.closed) return;
    const status = this.status();
    const hash = reportHash(status);
    if (hash === this.reportedHash) return;
    this.reportedHash = hash;
    this.counts.reports += 1;
    this.link.status(status);
  }

  private heartbeat(): void {
    if (this.cut || this.closed) return;
    if (reportHash(this.status()) !== this.reportedHash) {
      this.report();
      return;
    }
    this.counts.heartbeats += 1;
    this.link.heartbeat({ status_hash: this.reportedHash, held: { ...this.inbox.held } });
    const cut = this.cutAfterHeartbeat;
    this.cutAfterHeartbeat = undefined;
    cut?.();
  }
}
