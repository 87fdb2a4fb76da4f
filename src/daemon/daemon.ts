// `flotilla up` on one machine: the bus (nats-server, restarted if it dies), the hub, this
// node's agent and the hub's HTTP API, in one process. The same components run apart in a
// multi-node cluster; here they just share a process.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { NatsConnection } from 'nats';
import { z } from 'zod';
import { Agent } from '../agent/agent.ts';
import { SYSTEM_HOSTS_FILE } from '../agent/hosts-file.ts';
import { AgentLink } from '../bus/agent-link.ts';
import { ensureBuckets } from '../bus/buckets.ts';
import { connectBus, type Bus } from '../bus/client.ts';
import { closeConnection, connectNats } from '../bus/connection.ts';
import { busUsers, ensureCredentials, type BusCredentials } from '../bus/credentials.ts';
import { HubLink, NodeRequestError } from '../bus/hub-link.ts';
import { startBusServer, type BusServer } from '../bus/server.ts';
import { HubSigningKey } from '../protocol/signing.ts';
import { formatDiagnostic } from '../spec/diagnostic.ts';
import { SecretStore } from '../secrets/store.ts';
import { ensureStateDir } from '../state/state-dir.ts';
import { loadStackFileOffThread, warmLoaderThread } from '../spec/load-off-thread.ts';
import type { Stack } from '../spec/schema.ts';
import { bearerAuthentication, startApiServer, type ApiServer } from '../hub/api-server.ts';
import { ApiHandler } from '../hub/api/api-handler.ts';
import { auditEvent } from '../hub/api/api-audit.ts';
import { ApiError, defineRoute, type ApiRoute } from '../hub/api/api-route.ts';
import { ApiTokenStore } from '../hub/api/api-tokens.ts';
import {
  applyResultSchema,
  backupAnswerSchema,
  busTrafficSchema,
  eventsStream,
  logLinesSchema,
  logStream,
  routeReportSchema,
  statusReportSchema,
} from '../hub/api/answers.ts';
import { secretRoutes } from '../hub/api/secret-routes.ts';
import { tokenRoutes } from '../hub/api/token-routes.ts';
import { newApiToken, removeEndpoint, writeEndpoint } from '../hub/api-endpoint.ts';
import { Hub } from '../hub/hub.ts';
import { Deployer } from '../hub/deploy/deployer.ts';
import { deployRoutes } from '../hub/deploy/deploy-routes.ts';
import { ReleaseStore } from '../bus/release-store.ts';
import { PushDeploys } from '../hub/webhooks/push-deploys.ts';
import { MonitorStore } from '../bus/monitor-store.ts';
import { AlertDispatcher } from '../hub/alerts/alert-dispatcher.ts';
import { MonitoringService } from '../hub/monitoring/monitoring-service.ts';
import { monitoringRoutes } from '../hub/monitoring/monitoring-routes.ts';
import { MetricsEndpoint } from '../hub/metrics/metrics-endpoint.ts';
import { DashboardEndpoint } from '../hub/dashboard/dashboard-endpoint.ts';
import { hubSnapshot } from '../hub/metrics/hub-snapshot.ts';
import { statusReport } from '../hub/status-report.ts';
import { nodeOverview, nodeOverviewSchema } from '../hub/node-overview.ts';
import { busEventSchema } from '../protocol/events.ts';
import { hubNode } from '../plan/firewall-access.ts';
import { planStack } from '../plan/plan.ts';
import { withTailnetAddresses } from '../mesh/tailnet-stack.ts';
import { readTailscaleStatus } from '../mesh/tailscale.ts';
import { backupRequestSchema, type BackupRequest } from '../backup/node-backups.ts';
import { Cluster, clusterRoutes, type ClusterHooks } from './cluster.ts';
import { leftOnNode, leftRunningSchema } from '../node/left-running.ts';

export interface DaemonOptions {
  /** The stack file (kept so `apply` can reread it). */
  file: string;
  stack: Stack;
  stateDir: string;
  log: (line: string) => void;
  /** `flotilla hub`: other nodes join over the mesh. Absent: `flotilla up` on one machine. */
  cluster?: { node?: string; publicAddress?: string };
}

/** `?lines=N` of the log routes. */
function linesQuery(lines: number) {
  return z.object({ lines: z.coerce.number().int().min(0).max(10_000).default(lines) });
}

/** A backup or restore of a large database takes a while: the CLI waits for it. */
const BACKUP_REQUEST_TIMEOUT_MS = 6 * 60 * 60_000;

export class StackNotSingleNode extends Error {}

export class NotTheHubNode extends Error {}

/** The node a cluster's hub runs on: where plan opens the bus and join ports. */
function clusterNode(stack: Stack, wanted: string | undefined): string {
  const hub = hubNode(stack);
  if (hub === undefined) throw new NotTheHubNode('the stack has no nodes');
  if (wanted !== undefined && wanted !== hub)
    throw new NotTheHubNode(
      `the hub runs on ${hub} (the first gateway node), not ${wanted}: plan opens the bus and join ports there`,
    );
  return hub;
}

/** The node this machine plays: the only node of the stack. */
function localNode(stack: Stack): string {
  const nodes = Object.keys(stack.nodes);
  if (nodes.length !== 1) {
    throw new StackNotSingleNode(
      `this stack has ${nodes.length} nodes (${nodes.join(', ')}); \`flotilla up\` runs a single-node stack on this machine`,
    );
  }
  return nodes[0]!;
}

export class Daemon {
  private busServer: BusServer | undefined;
  private hubBus: Bus | undefined;
  private agentConnection: NatsConnection | undefined;
  private hub: Hub | undefined;
  private deployer: Deployer | undefined;
  private pushDeploys: PushDeploys | undefined;
  private alerts: AlertDispatcher | undefined;
  private monitoring: MonitoringService | undefined;
  private metrics: MetricsEndpoint | undefined;
  private dashboard: DashboardEndpoint | undefined;
  private agent: Agent | undefined;
  private api: ApiServer | undefined;
  /** Every API route, behind the loopback listener here and the dashboard's listener. */
  apiHandler: ApiHandler | undefined;
  apiTokens: ApiTokenStore | undefined;
  /** The stack file last applied: a secret set through the API is delivered by applying it again. */
  private appliedFile: string | undefined;
  private credentials: BusCredentials | undefined;
  private secrets: SecretStore | undefined;
  private cluster: Cluster | undefined;
  private node = '';
  private stopping = false;
  private finished!: () => void;
  /** Settles once the daemon has shut down (after `down` or `detach`). */
  readonly done = new Promise<void>((resolve) => (this.finished = resolve));

  constructor(private readonly options: DaemonOptions) {}

  async start(): Promise<{ url: string; token: string }> {
    const { stateDir, cluster } = this.options;
    const stack = await this.withMeshAddresses(this.options.stack);
    const node = cluster ? clusterNode(stack, cluster.node) : localNode(stack);
    this.node = node;
    const stackDir = path.dirname(path.resolve(this.options.file));
    await ensureStateDir(stateDir);
    await mkdir(path.join(stateDir, 'hub'), { recursive: true, mode: 0o700 });
    const busDir = path.join(stateDir, 'bus');
    let busAddress: { host: string; port: number } | undefined;
    if (cluster) {
      this.cluster = await Cluster.open({
        stateDir,
        node,
        publicAddress: cluster.publicAddress ?? stack.nodes[node]!.address,
        agentIdentityFile: path.join(stateDir, 'agent', 'identity'),
      });
      // The mesh first: the bus listens on the hub's mesh address.
      const plan = planStack(stack, { stackDir, stateDir });
      await this.cluster.applier.apply(this.cluster.network(stack, plan, node));
      busAddress = this.cluster.busAddress(plan);
    }
    this.credentials = await ensureCredentials(busDir, this.cluster?.members.nodes() ?? [node]);
    await this.startBus(busDir, busAddress);
    const url = this.busServer!.url;
    const { hub: hubCredentials, agents } = this.credentials;
    this.hubBus = await connectBus({
      url,
      ...hubCredentials,
      name: 'hub',
      onError: (error) => this.options.log(`bus: ${String(error)}`),
    });
    await ensureBuckets(this.hubBus);
    this.secrets = await SecretStore.open(stateDir);
    const signingKey = await HubSigningKey.loadOrCreate(path.join(stateDir, 'hub', 'signing.key'));
    const releaseStore = await ReleaseStore.open(this.hubBus);
    this.hub = new Hub({
      releases: () => this.deployer!.releases(),
      bus: this.hubBus,
      link: new HubLink(this.hubBus.connection, signingKey),
      secrets: this.secrets,
      stateDir,
      log: this.options.log,
      ...(this.cluster ? { cluster: this.cluster } : {}),
    });
    this.deployer = new Deployer(this.hub, releaseStore, this.hubBus, this.options.log);
    await this.deployer.load();
    const events = this.hubBus.events;
    this.pushDeploys = new PushDeploys({
      deployer: () => this.deployer!,
      secrets: this.secrets,
      hubDir: path.join(stateDir, 'hub'),
      audit: (event) => void events.publish(event).catch(() => undefined),
      log: this.options.log,
    });
    this.alerts = new AlertDispatcher({
      secrets: this.secrets,
      audit: (event) => void events.publish(event).catch(() => undefined),
      log: this.options.log,
    });
    this.monitoring = new MonitoringService({
      hub: this.hub,
      store: await MonitorStore.open(this.hubBus),
      events,
      alerts: this.alerts,
      secrets: this.secrets,
      hubDir: path.join(stateDir, 'hub'),
      node,
      log: this.options.log,
    });
    this.metrics = new MetricsEndpoint({
      secrets: this.secrets,
      snapshot: () => hubSnapshot(this.hub!, this.monitoring!),
      log: this.options.log,
    });
    this.hub.start();
    for (const [member, recipient] of this.cluster?.recipients() ?? [])
      this.hub.setNodeRecipient(member, recipient);
    this.agentConnection = await connectNats({ url, ...agents[node]!, name: `agent ${node}` });
    this.agent = new Agent({
      node,
      link: new AgentLink(this.agentConnection, node),
      hubKey: signingKey.publicKey,
      stack: stack.name,
      stateDir,
      gateway: stack.nodes[node]!.gateway,
      // A cluster node is a machine of its own; `up` on a laptop leaves /etc/hosts alone.
      ...(this.cluster ? { network: this.cluster.applier, hostsFile: SYSTEM_HOSTS_FILE } : {}),
      log: this.options.log,
    });
    await this.agent.start();
    this.hub.setNodeRecipient(node, this.agent.recipient);
    const { notes } = await this.hub.apply({ stack, stackDir });
    for (const note of notes) this.options.log(note);
    this.deployer.prepareEverywhere();
    await this.pushDeploys.update(stack);
    await this.monitoring.start();
    await this.watch(stack, stackDir);
    const hooks = this.cluster ? this.clusterHooks(busDir) : undefined;
    if (this.cluster && hooks) {
      await this.cluster.startJoinListener(hooks, {
        busUrl: url,
        hubSigningKey: signingKey.publicKey,
      });
    }
    const token = newApiToken();
    this.apiTokens = await ApiTokenStore.open(stateDir);
    this.apiHandler = new ApiHandler(this.apiRoutes(node, hooks && (() => hooks)), {
      audit: (entry) => void events.publish(auditEvent(entry)).catch(() => undefined),
    });
    this.api = await startApiServer({
      host: '127.0.0.1',
      port: 0,
      authenticate: bearerAuthentication(token, this.apiTokens),
      handler: this.apiHandler,
    });
    await writeEndpoint(stateDir, { url: this.api.url, token, pid: process.pid });
    this.dashboard = new DashboardEndpoint({
      stateDir,
      api: this.apiHandler,
      tokens: this.apiTokens,
      audit: (event) => void events.publish(event).catch(() => undefined),
      log: this.options.log,
    });
    await this.dashboard.update(stack);
    // A cluster's every node waits on an apply: its first must not pay the loader's start
    // (about a second of CPU; ~50 MB, which a single machine's hub saves until it applies).
    if (this.cluster) warmLoaderThread();
    return { url: this.api.url, token };
  }

  /** Stops every service (dependents first) on every node, then Caddy, the bus and the API. */
  async down(): Promise<void> {
    if (this.stopping) return this.done;
    this.stopping = true;
    await Promise.all(
      (this.cluster?.members.nodes() ?? [])
        .filter((member) => member !== this.node)
        .map((member) => this.askToLeave(member, 120_000)),
    );
    await this.agent?.stopAll();
    await this.shutdown();
  }

  private async askToLeave(node: string, timeoutMs: number): Promise<void> {
    try {
      await this.ask(node, 'down', {}, timeoutMs);
    } catch (error) {
      this.options.log(`node ${node} did not stop its services: ${(error as Error).message}`);
    }
  }

  /** Monitors, alert channels, the metrics endpoint and the dashboard follow the applied stack. */
  private async watch(stack: Stack, stackDir: string): Promise<void> {
    await this.monitoring!.update(stack, stackDir);
    const mesh = this.cluster ? this.hub!.plan?.nodes[this.node]?.mesh_address : undefined;
    await this.metrics!.update(stack, mesh === undefined ? ['127.0.0.1'] : ['127.0.0.1', mesh]);
    // Undefined at the first watch: the dashboard starts once the API it serves exists.
    await this.dashboard?.update(stack);
  }

  /** On a tailnet, the nodes' addresses are Tailscale's: read them, as plan does. */
  private async withMeshAddresses(stack: Stack): Promise<Stack> {
    if (!this.options.cluster || stack.mesh.provider !== 'tailscale') return stack;
    const { stack: pinned, mapping } = withTailnetAddresses(stack, await readTailscaleStatus());
    for (const node of mapping.missing) this.options.log(mapping.hints[node]!);
    return pinned;
  }

  private clusterHooks(busDir: string): ClusterHooks {
    const refreshCredentials = async (renew: string[] = []) => {
      this.credentials = await ensureCredentials(busDir, this.cluster!.members.nodes(), renew);
      await this.busServer!.reload(busUsers(this.credentials));
    };
    return {
      current: () => {
        const { stack, plan } = this.hub!;
        return stack && plan ? { stack, plan } : undefined;
      },
      credentialsFor: async (node, options) => {
        if (options?.renew) await refreshCredentials([node]);
        else if (!this.credentials!.agents[node]) await refreshCredentials();
        return this.credentials!.agents[node]!;
      },
      changed: async (node, change, replaced) => {
        if (change === 'joined') {
          this.hub!.setNodeRecipient(node, this.cluster!.members.get(node)!.recipient);
          this.options.log(
            replaced
              ? `node ${node} joined with new keys, replacing WireGuard key ${replaced.wireguard_key} (joined ${replaced.joined_at}) and its bus password`
              : `node ${node} joined`,
          );
          // Not awaited: the answer lets the node start its interface and agent while every
          // node's desired state gets the new peer.
          void this.hub!.reapply()
            // The new node's instances of deployed services need their releases.
            .then(() => this.deployer!.prepareEverywhere())
            .catch((error: Error) =>
              this.options.log(`the desired states after ${node} joined: ${error.message}`),
            );
          return;
        }
        // Asked while its credentials still work; a node that is gone just doesn't answer.
        await this.askToLeave(node, 15_000);
        await refreshCredentials();
        await this.hub!.forgetNode(node);
        this.options.log(`node ${node} was removed`);
      },
    };
  }

  /** Leaves services running (for the next daemon to adopt) and shuts the control plane down. */
  async detach(): Promise<void> {
    if (this.stopping) return this.done;
    this.stopping = true;
    await this.agent?.detach();
    await this.shutdown();
  }

  private async shutdown(): Promise<void> {
    this.hub?.stop();
    await this.pushDeploys?.close();
    await this.monitoring?.close();
    await this.metrics?.close();
    await this.dashboard?.close();
    await this.cluster?.close();
    await removeEndpoint(this.options.stateDir);
    await this.api?.close();
    if (this.agentConnection) await closeConnection(this.agentConnection).catch(() => {});
    await this.hubBus?.close().catch(() => {});
    await this.busServer?.stop();
    this.finished();
  }

  private async startBus(dir: string, address?: { host: string; port: number }): Promise<void> {
    const server = await startBusServer({ dir, users: busUsers(this.credentials!), ...address });
    this.busServer = server;
    void server.exited.then(async (exit) => {
      if (this.stopping) return;
      this.options.log(`the bus (nats-server) exited (${exit.signal ?? exit.code}); restarting it`);
      for (let attempt = 1; !this.stopping; attempt++) {
        try {
          await this.startBus(dir, address);
          this.options.log('the bus is back');
          return;
        } catch (error) {
          this.options.log(
            `restarting the bus failed (attempt ${attempt}): ${(error as Error).message}`,
          );
          await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * attempt)));
        }
      }
    });
  }

  private nodesOf(service: string): string[] {
    const plan = this.hub?.plan;
    if (!plan || !plan.placement.some((instance) => instance.service === service)) {
      throw new ApiError(404, `no service named ${service}`);
    }
    return [
      ...new Set(
        plan.placement
          .filter((instance) => instance.service === service)
          .map((instance) => instance.node),
      ),
    ];
  }

  /** A node's refusal is the caller's to fix (400); silence is the node's (504). */
  private async ask(
    node: string,
    verb: string,
    payload: unknown,
    timeoutMs?: number,
  ): Promise<unknown> {
    if (!this.credentials!.agents[node]) throw new ApiError(404, `no node named ${node}`);
    try {
      return await this.hub!.request(node, verb, payload, timeoutMs);
    } catch (error) {
      if (error instanceof NodeRequestError)
        throw new ApiError(error.timedOut ? 504 : 400, error.message);
      throw error;
    }
  }

  /** Loads `file`, checks it is this hub's kind of stack, and applies it. */
  private async applyFile(file: string): Promise<z.input<typeof applyResultSchema>> {
    const loaded = await loadStackFileOffThread(file, {
      knownSecrets: await this.secrets!.names(),
    });
    if (!loaded.ok) {
      throw new ApiError(
        400,
        `${file} is not valid`,
        loaded.diagnostics.map((diagnostic) => formatDiagnostic(diagnostic)),
      );
    }
    try {
      if (this.cluster) clusterNode(loaded.stack, this.node);
      else localNode(loaded.stack);
    } catch (error) {
      throw new ApiError(400, (error as Error).message);
    }
    const stackDir = path.dirname(path.resolve(file));
    const stack = await this.withMeshAddresses(loaded.stack);
    const applied = await this.hub!.apply({ stack, stackDir });
    this.appliedFile = file;
    this.deployer!.prepareEverywhere();
    await this.pushDeploys!.update(stack);
    await this.watch(stack, stackDir);
    return applied;
  }

  /**
   * The hub API's whole route table without a hub, for the OpenAPI document: the definitions
   * are read, no handler is ever called (the constructor only keeps its options).
   */
  static documentedApiRoutes(): ApiRoute[] {
    const daemon = new Daemon({
      file: 'flotilla.yml',
      stack: { name: 'documented' } as Stack,
      stateDir: '',
      log: () => undefined,
    });
    return daemon.apiRoutes('hub', () => {
      throw new Error('the documented route table has no cluster');
    });
  }

  /** Every route of the hub API; with `clusterHooks`, the routes of a multi-node hub too. */
  private apiRoutes(node: string, clusterHooks?: () => ClusterHooks): ApiRoute[] {
    return [
      ...this.routes(node),
      ...deployRoutes(
        () => this.deployer!,
        () => this.hub!,
        () => this.hubBus!.events,
      ),
      ...monitoringRoutes(
        () => this.monitoring!,
        () => this.alerts!,
        () => this.hub!.stack,
      ),
      ...secretRoutes(
        () => this.secrets!,
        () => this.hub!.plan,
        async () => void (await this.applyFile(this.appliedFile ?? this.options.file)),
      ),
      ...tokenRoutes(() => this.apiTokens!),
      ...(clusterHooks ? clusterRoutes(() => this.cluster!, clusterHooks) : []),
    ];
  }

  private routes(node: string): ApiRoute[] {
    return [
      defineRoute({
        method: 'GET',
        path: '/api/v1/status',
        scope: 'read',
        summary:
          'Every instance with its live state, every route, each gateway, and whether all is ready',
        response: statusReportSchema,
        handle: async () => ({ json: statusReport(this.hub!) ?? null }),
      }),
      defineRoute({
        method: 'GET',
        path: '/api/v1/routes',
        scope: 'read',
        summary: 'Every route the gateways serve, with how many of its upstreams are healthy',
        response: z.object({ routes: z.array(routeReportSchema) }),
        handle: async () => ({ json: { routes: statusReport(this.hub!)?.routes ?? [] } }),
      }),
      defineRoute({
        method: 'GET',
        path: '/api/v1/bus',
        scope: 'read',
        summary: 'Messages and bytes the hub sent and received on the bus, by kind',
        response: busTrafficSchema,
        handle: async () => ({ json: this.hub!.busTraffic() }),
      }),
      defineRoute({
        method: 'POST',
        path: '/api/v1/apply',
        scope: 'admin',
        summary:
          "Apply the hub's stack file again (rereading it and the secrets); the CLI on the hub may name another `file`",
        body: z.object({ file: z.string().optional() }).optional(),
        response: applyResultSchema,
        handle: async ({ body, principal }) => {
          // A path on the hub's disk: a remote caller naming one could have the hub read any
          // file and answer its diagnostics.
          if (body?.file !== undefined && principal.kind !== 'local')
            throw new ApiError(403, 'only the CLI on the hub names a stack file to apply', {
              hint: 'leave out `file`: the hub applies its stack file again',
            });
          return {
            json: await this.applyFile(body?.file ?? this.appliedFile ?? this.options.file),
          };
        },
      }),
      defineRoute({
        method: 'POST',
        path: '/api/v1/services/:name/restart',
        scope: 'operate',
        summary: 'Restart every instance of a service, on every node',
        response: z.object({ restarted: z.number().int() }),
        handle: async ({ params }) => {
          let restarted = 0;
          for (const target of this.nodesOf(params.name!)) {
            const answer = (await this.ask(
              target,
              'restart',
              { service: params.name },
              120_000,
            )) as { restarted: number };
            restarted += answer.restarted;
          }
          return { json: { restarted } };
        },
      }),
      defineRoute({
        method: 'GET',
        path: '/api/v1/services/:name/logs',
        scope: 'read',
        summary: "The last lines of a service's logs, from every node",
        query: linesQuery(100),
        response: logLinesSchema,
        handle: async ({ params, queryValues }) => {
          const all: string[] = [];
          for (const target of this.nodesOf(params.name!)) {
            const answer = (await this.ask(target, 'logs', {
              service: params.name,
              lines: queryValues.lines,
            })) as { lines: string[] };
            all.push(...answer.lines);
          }
          return { json: { lines: all } };
        },
      }),
      defineRoute({
        method: 'GET',
        path: '/api/v1/services/:name/logs/follow',
        scope: 'read',
        summary: "A service's logs as they are written (server-sent events), from the hub's node",
        query: linesQuery(10),
        stream: logStream,
        handle: async ({ params, queryValues }) => {
          const service = params.name!;
          this.nodesOf(service);
          const ids = this.hub!.plan!.placement.filter(
            (instance) => instance.service === service && instance.node === node,
          ).map((instance) => instance.instance);
          return {
            events: async (send, signal) => {
              const followers = ids.map((id) =>
                this.agent!.followInstanceLog(
                  id,
                  (batch) =>
                    send(
                      'lines',
                      batch.map((line) => `${id} | ${line}`),
                    ),
                  { lines: queryValues.lines },
                ),
              );
              await new Promise<void>((resolve) =>
                signal.addEventListener('abort', () => resolve(), { once: true }),
              );
              for (const follower of followers) follower.close();
            },
          };
        },
      }),
      defineRoute({
        method: 'GET',
        path: '/api/v1/events',
        scope: 'read',
        summary: 'The audit log as it is written (server-sent events)',
        stream: eventsStream,
        handle: async () => ({
          events: async (send, signal) => {
            const watch = await this.hubBus!.events.subscribe(({ event }) => send('event', event));
            await new Promise<void>((resolve) =>
              signal.addEventListener('abort', () => resolve(), { once: true }),
            );
            watch.stop();
          },
        }),
      }),
      defineRoute({
        method: 'GET',
        path: '/api/v1/events/recent',
        scope: 'read',
        summary: 'The newest `limit` events of the audit log, oldest first',
        query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(20) }),
        response: z.object({ events: z.array(busEventSchema) }),
        handle: async ({ queryValues }) => {
          const records = await this.hubBus!.events.recent(queryValues.limit, () => true);
          return { json: { events: records.map((record) => record.event) } };
        },
      }),
      defineRoute({
        method: 'GET',
        path: '/api/v1/nodes/overview',
        scope: 'read',
        summary:
          "Each node: up, its last report, its agent's CPU, memory and disk, its monthly cost",
        response: z.object({ nodes: z.array(nodeOverviewSchema) }),
        handle: async () => ({ json: { nodes: nodeOverview(this.hub!) } }),
      }),
      this.backupRoute('operate', '/api/v1/backups/:job', ['run', 'verify']),
      this.backupRoute('admin', '/api/v1/backups/:job/restore', ['restore']),
      defineRoute({
        method: 'POST',
        path: '/api/v1/down',
        scope: 'admin',
        summary:
          'Stop every service on every node, then the hub; says what stays on purpose (mesh, firewall)',
        status: 202,
        response: z.object({ stopping: z.boolean(), left: z.array(leftRunningSchema) }),
        handle: async () => {
          const [stack, plan, cluster] = [this.hub?.stack, this.hub?.plan, this.cluster];
          const dirs = cluster?.stateDirs() ?? {};
          const left =
            cluster && stack && plan
              ? cluster.members
                  .nodes()
                  .filter((node) => plan.nodes[node] !== undefined)
                  .flatMap(
                    (node) =>
                      leftOnNode(node, cluster.network(stack, plan, node), dirs[node]) ?? [],
                  )
              : [];
          // Answer first: the API goes away with the rest.
          setImmediate(() => void this.down());
          return { json: { stopping: true, left }, status: 202 };
        },
      }),
    ];
  }

  /** Run or verify (operate) and restore (admin, with the job's name as confirmation) on the job's node. */
  private backupRoute(
    scope: 'operate' | 'admin',
    path: string,
    actions: BackupRequest['action'][],
  ): ApiRoute {
    const restore = actions.includes('restore');
    return defineRoute({
      method: 'POST',
      path,
      scope,
      summary: restore
        ? "Restore a backup job's snapshot (confirm: the job's name, to replace live data)"
        : 'Run or verify a backup job now, on its node',
      body: backupRequestSchema.omit({ job: true }).extend({ action: z.enum(actions) }),
      response: backupAnswerSchema,
      handle: async ({ params, body }) => {
        const job = params.job!;
        const target = this.hub!.backupNode(job);
        if (target === undefined)
          throw new ApiError(404, `no backup job named ${job} is scheduled`);
        const request: BackupRequest = { job, ...body };
        return {
          json: (await this.ask(target, 'backup', request, BACKUP_REQUEST_TIMEOUT_MS)) as z.input<
            typeof backupAnswerSchema
          >,
        };
      },
    });
  }
}
