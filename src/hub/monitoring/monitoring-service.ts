// The hub's monitoring: every monitor of the stack (monitor-definitions.ts) checked on its
// interval, each result judged by its tracker (retries, incidents, reminders, flapping,
// maintenance) and kept with its figures, and each decision sent as an alert. Active checks
// (routes, declared HTTP/TCP) run here or, with a `from` node, on that node's agent; the
// others read what the hub already knows (reports, node metrics, backup events, pings).
import { httpsOrigin } from '../../plan/https-origin.ts';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { MonitorStore } from '../../bus/monitor-store.ts';
import type { EventStream } from '../../bus/events.ts';
import type { Watch } from '../../bus/kv.ts';
import { backupEventSchema } from '../../backup/events.ts';
import { tlsIssuerFor } from '../../plan/routes.ts';
import { slotInstanceId } from '../../plan/release-slots.ts';
import { slotSchema } from '../../release/release-record.ts';
import { hubNode } from '../../plan/firewall-access.ts';
import type { BusEvent } from '../../protocol/events.ts';
import { renderSecrets } from '../../secrets/render-secrets.ts';
import { readOrCreateSecretFile } from '../../secrets/secret-file.ts';
import type { SecretStore } from '../../secrets/store.ts';
import { durationMs } from '../../spec/formats.ts';
import type { Stack } from '../../spec/schema.ts';
import { checkResultSchema, type CheckRequest } from '../../monitoring/check-request.ts';
import { runCheck } from '../../monitoring/checks/run-check.ts';
import type { CheckResult } from '../../monitoring/checks/check-result.ts';
import type { AlertDispatcher } from '../alerts/alert-dispatcher.ts';
import type { AlertMessage } from '../alerts/alert-message.ts';
import type { Hub } from '../hub.ts';
import { backupOutcome, recordBackupEvent, type BackupRecord } from './backup-freshness.ts';
import { inMaintenance } from './maintenance.ts';
import { monitorDefinitions, type MonitorDefinition } from './monitor-definitions.ts';
import {
  MonitorTracker,
  trackerPolicy,
  type AlertDecision,
  type CheckOutcome,
} from './monitor-tracker.ts';
import { startPushListener } from './push-listener.ts';
import type { Ping } from './push-protocols.ts';
import { derivePushToken, PushTokenTable } from './push-tokens.ts';
import { describeAlert } from './alert-text.ts';
import {
  emptyUptimeStats,
  latencyPercentiles,
  recent,
  record,
  uptime,
  uptimeStatsSchema,
  type LatencyPercentiles,
  type RecentResult,
  type UptimeStats,
} from './uptime-stats.ts';

/** How often due monitors are looked for; intervals are whole seconds in practice. */
const TICK_MS = 1_000;
/** Checks in flight at once: 500 monitors at 30 s is ~17 a second. */
const MAX_RUNNING = 32;
/** Figures are saved at most this often per monitor; state changes at once. */
const SAVE_EVERY_MS = 5 * 60_000;
/** Backup and deploy events read back at start, for each job's last runs. */
const EVENTS_REPLAYED = 5_000;
const DAY_MS = 86_400_000;

/** What the pings of one heartbeat said last: kept with the monitor, across hub restarts. */
const heartbeatRecordSchema = z.object({
  lastSuccessAt: z.number().optional(),
  lastFailAt: z.number().optional(),
  lastMessage: z.string().optional(),
  /** Kuma's `ping=`: the client's own round trip, shown as the monitor's latency. */
  lastPingMs: z.number().optional(),
});
type HeartbeatRecord = z.infer<typeof heartbeatRecordSchema>;

/** What the bus keeps per monitor: its tracker's state and its figures. */
const savedMonitorSchema = z.object({
  tracker: z.unknown(),
  stats: uptimeStatsSchema,
  heartbeat: heartbeatRecordSchema.optional(),
});

interface Entry {
  definition: MonitorDefinition;
  tracker: MonitorTracker;
  nextAt: number;
  running: boolean;
  savedAt: number;
  /** When this hub began watching it: a heartbeat or backup slot before says nothing. */
  watchedSince: number;
  stats: UptimeStats;
  certificateExpiresAt?: number;
}

export interface MonitorView {
  name: string;
  kind: MonitorDefinition['target']['kind'];
  status: ReturnType<MonitorTracker['snapshot']>['status'];
  since?: number;
  detail?: string;
  checkedAt?: number;
  latencyMs?: number;
  certificateExpiresAt?: number;
  node?: string;
  service?: string;
  /** Fractions of checks up (maintenance left out); undefined without data. */
  uptime: { '24h'?: number | undefined; '7d'?: number | undefined; '30d'?: number | undefined };
  latency?: LatencyPercentiles;
  /** The last results, oldest first: for sparklines. */
  recent: RecentResult[];
}

export interface MonitoringServiceOptions {
  hub: Hub;
  store: MonitorStore;
  events: EventStream;
  alerts: AlertDispatcher;
  secrets: Pick<SecretStore, 'values'>;
  /** The hub's private directory: the key push tokens derive from lives there. */
  hubDir: string;
  /** The node this hub runs on: checks without `from` run here. */
  node: string;
  log: (line: string) => void;
}

export class MonitoringService {
  private readonly entries = new Map<string, Entry>();
  private saved = new Map<string, unknown>();
  private readonly backups = new Map<string, BackupRecord>();
  private readonly heartbeats = new Map<string, HeartbeatRecord>();
  private stack: Stack | undefined;
  private pushTokens = new PushTokenTable([]);
  private pushKey: Buffer | undefined;
  private push: { port: number; close(): Promise<void> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private eventsWatch: Watch | undefined;
  private readonly startedAt = Date.now();
  private running = 0;
  private readonly stopping = new AbortController();

  constructor(private readonly options: MonitoringServiceOptions) {}

  async start(): Promise<void> {
    this.saved = await this.options.store.loadAll();
    this.pushKey = Buffer.from(
      await readOrCreateSecretFile(path.join(this.options.hubDir, 'push.key'), {
        what: 'push token key (32 bytes as hex)',
        create: () => randomBytes(32).toString('hex'),
        isValid: (text) => /^[0-9a-f]{64}$/.test(text),
      }),
      'hex',
    );
    this.eventsWatch = await this.options.events.subscribe(({ event }) => this.onEvent(event), {
      replay: EVENTS_REPLAYED,
    });
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.timer);
    this.eventsWatch?.stop();
    await this.push?.close();
    this.push = undefined;
    this.options.alerts.close();
  }

  /** A new stack: monitors come and go, each kept one keeps its state. */
  async update(stack: Stack, stackDir: string): Promise<void> {
    this.stack = stack;
    this.options.alerts.update(stack, stackDir);
    const now = Date.now();
    const definitions = monitorDefinitions(stack);
    const wanted = new Set(definitions.map((definition) => definition.name));
    for (const name of this.entries.keys())
      if (!wanted.has(name)) {
        this.entries.delete(name);
        void this.options.store.remove(name).catch(() => undefined);
      }
    for (const definition of definitions) {
      const existing = this.entries.get(definition.name);
      const options = {
        monitor: definition.name,
        policy: trackerPolicy(stack.monitoring, definition.retries),
      };
      const saved = savedMonitorSchema.safeParse(this.saved.get(definition.name));
      const snapshot =
        existing?.tracker.snapshot() ?? (saved.success ? saved.data.tracker : undefined);
      const restored =
        snapshot === undefined ? undefined : MonitorTracker.restore(options, snapshot);
      const tracker = restored ?? MonitorTracker.create(options);
      if (saved.success && saved.data.heartbeat && !this.heartbeats.has(definition.name))
        this.heartbeats.set(definition.name, saved.data.heartbeat);
      // Updated in place: a check in flight holds this entry, and clears `running` on it.
      if (existing) {
        existing.definition = definition;
        existing.tracker = tracker;
        continue;
      }
      this.entries.set(definition.name, {
        definition,
        tracker,
        // Spread over the interval, so 500 monitors do not all fire in the same second.
        nextAt: now + spread(definition.name, definition.intervalMs),
        running: false,
        savedAt: now,
        watchedSince: now,
        stats: saved.success ? saved.data.stats : emptyUptimeStats(),
      });
    }
    this.saved.clear();
    await this.updatePush(stack, definitions);
  }

  list(): MonitorView[] {
    const now = Date.now();
    return [...this.entries.values()].map((entry) => {
      const { definition, tracker, stats, certificateExpiresAt } = entry;
      const latencyMs = stats.recent.at(-1)?.latencyMs;
      const state = tracker.snapshot();
      const latency = latencyPercentiles(stats, now);
      return {
        name: definition.name,
        kind: definition.target.kind,
        status: state.status,
        ...(state.since === undefined ? {} : { since: state.since }),
        ...(state.detail === undefined ? {} : { detail: state.detail }),
        ...(state.checkedAt === undefined ? {} : { checkedAt: state.checkedAt }),
        ...(latencyMs === undefined ? {} : { latencyMs }),
        ...(certificateExpiresAt === undefined ? {} : { certificateExpiresAt }),
        ...(definition.node === undefined ? {} : { node: definition.node }),
        ...(definition.service === undefined ? {} : { service: definition.service }),
        uptime: {
          '24h': uptime(stats, DAY_MS, now),
          '7d': uptime(stats, 7 * DAY_MS, now),
          '30d': uptime(stats, 30 * DAY_MS, now),
        },
        ...(latency === undefined ? {} : { latency }),
        recent: recent(stats),
      };
    });
  }

  /** Each backup job of the stack, the node that runs it and what the hub heard of its runs. */
  backupJobs(): { job: string; node: string; record: BackupRecord }[] {
    return [...this.entries.values()].flatMap(({ definition: { target } }) =>
      target.kind === 'backup'
        ? [
            {
              job: target.job,
              node: this.options.hub.backupNode(target.job) ?? '',
              record: this.backups.get(target.job) ?? {},
            },
          ]
        : [],
    );
  }

  /** The ping URLs of each heartbeat monitor (they carry its token: for the operator only). */
  async pushUrls(): Promise<Map<string, { healthchecks: string; kuma: string }>> {
    const urls = new Map<string, { healthchecks: string; kuma: string }>();
    const stack = this.stack;
    if (stack?.monitoring.push === undefined) return urls;
    const origin = httpsOrigin(stack.monitoring.push.host, stack.gateway.https_port);
    for (const entry of this.entries.values()) {
      const token = await this.tokenOf(entry.definition);
      if (token === undefined) continue;
      urls.set(entry.definition.name, {
        healthchecks: `${origin}/ping/${token}`,
        kuma: `${origin}/api/push/${token}?status=up&msg=OK&ping=`,
      });
    }
    return urls;
  }

  private tick(): void {
    const now = Date.now();
    for (const entry of this.entries.values()) {
      if (entry.running || entry.nextAt > now) continue;
      if (this.running >= MAX_RUNNING) return;
      entry.nextAt = now + entry.definition.intervalMs;
      void this.check(entry);
    }
  }

  private async check(entry: Entry): Promise<void> {
    entry.running = true;
    this.running += 1;
    try {
      const outcome = await this.evaluate(entry);
      // A monitor removed or replaced meanwhile: its result is no one's.
      if (outcome && this.entries.get(entry.definition.name) === entry)
        this.observe(entry, outcome);
    } catch (error) {
      this.options.log(`monitor ${entry.definition.name}: ${(error as Error).message}`);
    } finally {
      entry.running = false;
      this.running -= 1;
    }
  }

  /** One result, or undefined when there is nothing to judge yet (no report, no metrics). */
  private async evaluate(entry: Entry): Promise<CheckOutcome | undefined> {
    const { definition } = entry;
    const { target } = definition;
    const hub = this.options.hub;
    const now = Date.now();
    const outcome = (ok: boolean, detail: string, latencyMs?: number): CheckOutcome => ({
      ok,
      detail,
      at: now,
      ...(latencyMs === undefined ? {} : { latencyMs }),
    });
    switch (target.kind) {
      case 'route': {
        const result = await this.runActive(definition, this.routeCheck(definition, target));
        return this.judgeRoute(entry, result, now);
      }
      case 'http':
      case 'tcp': {
        const result = await this.runActive(definition, target.request);
        return outcome(result.ok, result.detail, result.latencyMs);
      }
      case 'instance': {
        if (hub.lostNodes().has(target.node)) return undefined; // node:<name> says it
        const status = hub.nodeStatuses().get(target.node);
        if (!status) return undefined;
        const ids = [
          target.instance,
          ...slotSchema.options.map((slot) => slotInstanceId(target.instance, slot)),
        ];
        const seen = status.instances.filter((instance) => ids.includes(instance.id));
        const serving = seen.find((instance) => instance.state === 'running' && instance.healthy);
        if (serving) return outcome(true, serving.health_detail || 'healthy');
        const instance = seen[0];
        if (!instance) return outcome(false, `not running on ${target.node}`);
        const why = instance.reason ?? instance.health_detail;
        return outcome(false, `${instance.state}${why ? `: ${why}` : ''}`);
      }
      case 'node': {
        const status = hub.nodeStatuses().get(target.node);
        if (!status) return undefined;
        return hub.lostNodes().has(target.node)
          ? outcome(false, `no report since ${new Date(status.at).toISOString()}`)
          : outcome(true, 'reporting');
      }
      case 'disk': {
        if (hub.lostNodes().has(target.node)) return undefined; // node:<name> says it
        const host = hub.nodeMetrics().get(target.node)?.host;
        if (!host || host.diskTotalBytes === 0) return undefined;
        const percent = (100 * host.diskUsedBytes) / host.diskTotalBytes;
        const limit = this.stack!.monitoring.disk_alert;
        return outcome(
          percent < limit,
          `disk ${percent.toFixed(1)} % full (alert above ${limit} %)`,
        );
      }
      case 'mesh': {
        const metrics = hub.nodeMetrics().get(target.from);
        const ping = metrics?.mesh.find((peer) => peer.peer === target.to);
        if (!ping || hub.lostNodes().has(target.from)) return undefined;
        return ping.rttMs === undefined
          ? outcome(
              false,
              `${target.to} unreachable from ${target.from}: ${ping.error ?? 'no reply'}`,
            )
          : outcome(true, `${ping.rttMs.toFixed(1)} ms round trip`, ping.rttMs);
      }
      case 'backup': {
        const result = backupOutcome(
          target.schedule,
          this.backups.get(target.job) ?? {},
          entry.watchedSince,
          now,
        );
        return outcome(result.ok, result.detail);
      }
      case 'heartbeat': {
        const record = this.heartbeats.get(definition.name) ?? {};
        if ((record.lastFailAt ?? 0) > (record.lastSuccessAt ?? 0))
          return outcome(
            false,
            `the job reported a failure${record.lastMessage ? `: ${record.lastMessage}` : ''}`,
          );
        const last = record.lastSuccessAt ?? entry.watchedSince;
        const late = now - last - target.periodMs - target.graceMs;
        return late > 0
          ? outcome(
              false,
              record.lastSuccessAt === undefined
                ? `no ping since the hub started watching (${new Date(last).toISOString()})`
                : `no ping since ${new Date(last).toISOString()}`,
            )
          : outcome(
              true,
              record.lastSuccessAt === undefined ? 'waiting for the first ping' : 'pinged',
              record.lastPingMs,
            );
      }
    }
  }

  /** HTTPS to the local gateway with the route's host: what a visitor's request goes through. */
  private routeCheck(
    definition: MonitorDefinition,
    target: Extract<MonitorDefinition['target'], { kind: 'route' }>,
  ): CheckRequest {
    return {
      kind: 'http',
      url: `https://${target.host}${target.path}`,
      method: 'GET',
      status: [],
      headers: {},
      dial: { host: '127.0.0.1', port: this.stack!.gateway.https_port },
      trust_gateway_ca: tlsIssuerFor(target.host) === 'internal',
      timeout_ms: definition.timeoutMs,
    };
  }

  /**
   * A route is up while the gateway and the app answer, whatever the app says (a 404 at `/`
   * or a 401 behind basic auth is the app's business), and down on a 5xx — the gateway's
   * own 502/503/504 when no instance answers — and when its ACME certificate is about to
   * expire (Caddy's internal CA issues 12-hour certificates and renews them itself).
   */
  private judgeRoute(entry: Entry, result: CheckResult, now: number): CheckOutcome {
    const answered = result.status !== undefined && result.status < 500;
    const expiry = durationMs(this.stack!.monitoring.certificate_expiry);
    const latency = result.latencyMs === undefined ? {} : { latencyMs: result.latencyMs };
    const acme =
      entry.definition.target.kind === 'route' &&
      tlsIssuerFor(entry.definition.target.host) === 'acme';
    // Only an ACME certificate's expiry is news: an internal one lasts 12 hours by design.
    if (acme) entry.certificateExpiresAt = result.certificateExpiresAt;
    if (
      answered &&
      acme &&
      result.certificateExpiresAt !== undefined &&
      result.certificateExpiresAt - now < expiry
    )
      return {
        ok: false,
        detail: `its TLS certificate expires ${new Date(result.certificateExpiresAt).toISOString()}`,
        at: now,
        ...latency,
      };
    return { ok: result.ok || answered, detail: result.detail, at: now, ...latency };
  }

  /** Runs a check here, or on the monitor's `from` node through its agent. */
  private async runActive(
    definition: MonitorDefinition,
    request: CheckRequest,
  ): Promise<CheckResult> {
    const from = definition.from;
    if (from === undefined || from === this.options.node) {
      const ca = this.options.hub.nodeStatuses().get(this.options.node)?.gateway?.ca_path;
      return runCheck(request, {
        signal: this.stopping.signal,
        ...(ca === undefined ? {} : { gatewayCaFile: ca }),
      });
    }
    try {
      const answer = await this.options.hub.request(
        from,
        'monitor.check',
        request,
        request.timeout_ms + 5_000,
      );
      const parsed = checkResultSchema.safeParse(answer);
      return parsed.success
        ? parsed.data
        : { ok: false, detail: `node ${from} answered an invalid result` };
    } catch (error) {
      return {
        ok: false,
        detail: `node ${from} did not run the check: ${(error as Error).message}`,
      };
    }
  }

  private observe(entry: Entry, outcome: CheckOutcome): void {
    const name = entry.definition.name;
    const before = entry.tracker.snapshot().status;
    const windows = this.stack?.monitoring.maintenance ?? [];
    const maintenance = inMaintenance(windows, name, outcome.at);
    const decisions = entry.tracker.observe(outcome, maintenance);
    entry.stats = record(entry.stats, outcome, maintenance);
    const after = entry.tracker.snapshot();
    if (
      after.status !== before ||
      decisions.length > 0 ||
      outcome.at - entry.savedAt > SAVE_EVERY_MS
    ) {
      entry.savedAt = outcome.at;
      const heartbeat = this.heartbeats.get(name);
      void this.options.store
        .save(name, { tracker: after, stats: entry.stats, ...(heartbeat && { heartbeat }) })
        .catch(() => undefined);
    }
    for (const decision of decisions) void this.alert(entry.definition, decision);
  }

  private async alert(definition: MonitorDefinition, decision: AlertDecision): Promise<void> {
    if (!this.stack) return;
    const message: AlertMessage = {
      ...describeAlert(this.stack.name, definition, decision),
      at: Date.now(),
    };
    await this.options.alerts.send(message);
  }

  private onEvent(event: BusEvent): void {
    const backup = backupEventSchema.safeParse(event);
    if (backup.success) {
      const job = backup.data.data.job;
      this.backups.set(job, recordBackupEvent(this.backups.get(job) ?? {}, backup.data));
      // Judged at once, not at the next interval: a failed backup alerts now.
      const entry = this.entries.get(`backup:${job}`);
      if (entry && event.at >= this.startedAt && !entry.running) void this.check(entry);
      return;
    }
    // A deploy that failed its gate switched nothing, but someone should look.
    if (
      (event.type === 'deploy.failed' || event.type === 'rollback.failed') &&
      event.at >= this.startedAt &&
      this.stack
    )
      void this.options.alerts.send({
        kind: 'event',
        stack: this.stack.name,
        what: event.message,
        ...(event.node === undefined ? {} : { node: event.node }),
        ...(event.service === undefined ? {} : { service: event.service }),
        at: event.at,
      });
  }

  private onPing(monitor: string, ping: Ping, at: number): void {
    const record = this.heartbeats.get(monitor) ?? {};
    const failed = ping.signal === 'fail';
    // A job's start says nothing about its health; its end (or its absence) does.
    if (ping.signal === 'start') return;
    if (failed) record.lastFailAt = at;
    else record.lastSuccessAt = at;
    if (ping.message !== undefined) record.lastMessage = ping.message;
    if (ping.pingMs !== undefined) record.lastPingMs = ping.pingMs;
    this.heartbeats.set(monitor, record);
    const entry = this.entries.get(monitor);
    if (!entry) return;
    // Saved with the result this ping leads to: a restarted hub knows the last ping.
    entry.savedAt = 0;
    if (!entry.running) void this.check(entry);
  }

  private async tokenOf(definition: MonitorDefinition): Promise<string | undefined> {
    const { target } = definition;
    if (target.kind !== 'heartbeat' || !this.stack || !this.pushKey) return undefined;
    if (target.token === undefined)
      return derivePushToken(this.pushKey, this.stack.name, definition.name);
    return renderSecrets(target.token, this.options.secrets);
  }

  /** The push listener runs while some monitor is a heartbeat, on `monitoring.push.port`. */
  private async updatePush(stack: Stack, definitions: MonitorDefinition[]): Promise<void> {
    const entries = new Map<string, string>();
    for (const definition of definitions) {
      const token = await this.tokenOf(definition);
      if (token === undefined) continue;
      const taken = entries.get(token);
      // Two secrets with the same value: a ping could not say which monitor it is for.
      if (taken === undefined) entries.set(token, definition.name);
      else
        this.options.log(
          `heartbeat monitors ${taken} and ${definition.name} have the same push token: pings count for ${taken} only (give each secret its own value)`,
        );
    }
    this.pushTokens = new PushTokenTable(
      [...entries].map(([token, monitor]) => ({ monitor, token })),
    );
    const port = stack.monitoring.push && entries.size > 0 ? stack.monitoring.push.port : undefined;
    if (this.push?.port === port) return;
    await this.push?.close();
    this.push = undefined;
    if (port === undefined || hubNode(stack) !== this.options.node) return;
    const listener = await startPushListener({
      host: '127.0.0.1',
      port,
      tokens: () => this.pushTokens,
      onPing: (monitor, ping, at) => this.onPing(monitor, ping, at),
      log: this.options.log,
    });
    this.push = { port, close: () => listener.close() };
  }
}

/** A stable offset within the interval, from the name. */
function spread(name: string, intervalMs: number): number {
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % intervalMs;
}
