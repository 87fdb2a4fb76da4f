// The multi-node half of the hub daemon: the nodes that joined, the hub's own mesh
// interface, the public join listener, join tokens, and removing nodes. A single-machine
// `flotilla up` has none of this.
import path from 'node:path';
import { z } from 'zod';
import { NetworkApplier } from '../agent/network-applier.ts';
import type { Credentials } from '../bus/credentials.ts';
import { startJoinListener, type ApiServer } from '../hub/api-server.ts';
import { ApiError, defineRoute, type ApiRoute } from '../hub/api/api-route.ts';
import type { ClusterView } from '../hub/hub.ts';
import type { AgeKeyPair } from '../hub/join-protocol.ts';
import { JoinService } from '../hub/join-service.ts';
import {
  DEFAULT_JOIN_TTL_MS,
  issueJoinToken,
  loadOrCreateJoinSecret,
  MAX_JOIN_TTL_MS,
  UsedNonces,
} from '../hub/join-token.ts';
import { Members, type Member } from '../hub/members.ts';
import { ensureKeyPair } from '../mesh/keys.ts';
import { nodeNetwork } from '../hub/node-network.ts';
import type { NodeNetwork } from '../protocol/node-network.ts';
import { BUS_PORT, JOIN_PORT } from '../plan/firewall-access.ts';
import type { Plan } from '../plan/plan.ts';
import { loadOrCreateIdentity } from '../secrets/store.ts';
import { urlHost } from '../spec/formats.ts';
import type { Stack } from '../spec/schema.ts';

export interface ClusterOptions {
  stateDir: string;
  /** The hub's node in the stack. */
  node: string;
  /** Where other nodes reach the hub before the mesh: its public address. */
  publicAddress: string;
  /** The hub agent's age identity file: the hub node's secrets are sealed to it. */
  agentIdentityFile: string;
}

export interface ClusterHooks {
  current(): { stack: Stack; plan: Plan } | undefined;
  credentialsFor(node: string, options?: { renew: boolean }): Promise<Credentials>;
  /**
   * A node joined or left: peers, credentials and desired states must follow. `replaced`,
   * on 'joined': the member as it was, when a `--replace` token gave it new keys (log it).
   */
  changed(node: string, change: 'joined' | 'removed', replaced?: Member): Promise<void>;
}

/** What every join answer carries besides the node's own credentials. */
export interface JoinAnswerBasics {
  /** The bus URL on the hub's mesh address. */
  busUrl: string;
  /** What agents verify the hub's signatures with (opaque to the join). */
  hubSigningKey: string;
}

const tokenRequestSchema = z.object({
  node: z.string().optional(),
  ttl_ms: z.number().int().positive().optional(),
  /** The token may give `node`, which has joined, new keys. */
  replace: z.boolean().optional(),
});

export class Cluster implements ClusterView {
  private joinListener: ApiServer | undefined;

  private constructor(
    private readonly options: ClusterOptions,
    readonly members: Members,
    private readonly joinIdentity: AgeKeyPair,
    private readonly joinSecret: Buffer,
    private readonly usedNonces: UsedNonces,
    /** Applies the hub node's own mesh interface and firewall (its agent uses the same). */
    readonly applier: NetworkApplier,
  ) {}

  static async open(options: ClusterOptions): Promise<Cluster> {
    const hubDir = path.join(options.stateDir, 'hub');
    const meshDir = path.join(options.stateDir, 'mesh');
    const wireguard = await ensureKeyPair(path.join(meshDir, 'wireguard.key'));
    const members = await Members.open(hubDir);
    const own = members.get(options.node);
    const { recipient } = await loadOrCreateIdentity(options.agentIdentityFile);
    const self: Member = {
      wireguard_key: wireguard.publicKey,
      endpoint: options.publicAddress,
      recipient,
      state_dir: options.stateDir,
      joined_at: own?.joined_at ?? new Date().toISOString(),
    };
    const keys = ['wireguard_key', 'endpoint', 'recipient', 'state_dir'] as const;
    if (!own || keys.some((key) => own[key] !== self[key])) await members.set(options.node, self);
    return new Cluster(
      options,
      members,
      await loadOrCreateIdentity(path.join(hubDir, 'join.identity')),
      await loadOrCreateJoinSecret(hubDir),
      await UsedNonces.open(hubDir),
      new NetworkApplier({ privateKeyFile: wireguard.file, meshDir, firewall: true }),
    );
  }

  joined(node: string): boolean {
    return this.members.get(node) !== undefined;
  }

  stateDirs(): Record<string, string> {
    return Object.fromEntries(
      this.members
        .entries()
        .flatMap(([node, member]) =>
          member.state_dir === undefined ? [] : [[node, member.state_dir] as const],
        ),
    );
  }

  /** Member nodes' age recipients, for sealing their secrets. */
  recipients(): [string, string][] {
    return this.members.entries().map(([node, member]) => [node, member.recipient]);
  }

  /** ClusterView: what the hub writes into each node's desired state. */
  network(stack: Stack, plan: Plan, node: string): NodeNetwork {
    return nodeNetwork(stack, plan, this.members.entries(), node);
  }

  /** The bus listens on the hub's mesh address only: agents reach it through the tunnel. */
  busAddress(plan: Plan): { host: string; port: number } {
    return { host: plan.nodes[this.options.node]!.mesh_address, port: BUS_PORT };
  }

  /** Opens the public join port; every answer carries `basics`. */
  async startJoinListener(hooks: ClusterHooks, basics: JoinAnswerBasics): Promise<void> {
    const service = new JoinService({
      joinKey: this.joinIdentity,
      secret: this.joinSecret,
      usedNonces: this.usedNonces,
      members: this.members,
      hubNode: this.options.node,
      current: hooks.current,
      busUrl: basics.busUrl,
      hubSigningKey: basics.hubSigningKey,
      credentialsFor: hooks.credentialsFor,
      joined: (node, replaced) => hooks.changed(node, 'joined', replaced),
    });
    this.joinListener = await startJoinListener({
      host: '0.0.0.0',
      port: JOIN_PORT,
      route: service.route(),
    });
  }

  async close(): Promise<void> {
    await this.joinListener?.close();
  }

  /** The nodes that joined, for `flotilla node ls`. */
  nodeList(): { node: string; endpoint: string; joined_at: string; hub: boolean }[] {
    return this.members.entries().map(([node, member]) => ({
      node,
      endpoint: member.endpoint,
      joined_at: member.joined_at,
      hub: node === this.options.node,
    }));
  }

  /** A join token for `flotilla node token`; ApiError when the request cannot be met. */
  joinToken(request: z.infer<typeof tokenRequestSchema>, stack: Stack | undefined): string {
    if (request.node !== undefined && !stack?.nodes[request.node])
      throw new ApiError(404, `the stack has no node "${request.node}"`);
    if (request.replace && request.node === undefined)
      throw new ApiError(400, 'a token that replaces keys names its node: pass --node');
    if ((request.ttl_ms ?? 0) > MAX_JOIN_TTL_MS)
      throw new ApiError(400, 'a join token lives at most 24 hours');
    return issueJoinToken(this.joinSecret, {
      hubUrl: `http://${urlHost(this.options.publicAddress)}:${JOIN_PORT}`,
      hubKey: this.joinIdentity.recipient,
      ...(request.node === undefined ? {} : { node: request.node }),
      ...(request.replace ? { replace: true } : {}),
      ttlMs: request.ttl_ms ?? DEFAULT_JOIN_TTL_MS,
    });
  }

  /** Forgets a joined node (`flotilla node rm`); ApiError for the hub's own or an unknown one. */
  async removeNode(node: string, hooks: ClusterHooks): Promise<void> {
    if (node === this.options.node)
      throw new ApiError(409, `${node} is the hub's own node and cannot be removed`);
    if (!(await this.members.remove(node)))
      throw new ApiError(404, `no node named ${node} has joined`);
    await hooks.changed(node, 'removed');
  }
}

/** The API routes of `flotilla node …` (a multi-node hub only). */
export function clusterRoutes(cluster: () => Cluster, hooks: () => ClusterHooks): ApiRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/nodes',
      scope: 'read',
      summary: 'The nodes that joined, with their mesh endpoints (multi-node hubs)',
      response: z.object({
        nodes: z.array(
          z.object({
            node: z.string(),
            endpoint: z.string(),
            joined_at: z.string(),
            hub: z.boolean(),
          }),
        ),
      }),
      handle: async () => ({ json: { nodes: cluster().nodeList() } }),
    }),
    defineRoute({
      method: 'POST',
      path: '/api/v1/nodes/token',
      scope: 'admin',
      summary:
        'A one-time join token for a new node, or new keys for a joined one (multi-node hubs)',
      body: tokenRequestSchema.optional(),
      response: z.object({ token: z.string(), expires_in_ms: z.number().int() }),
      handle: async ({ body }) => {
        const request = body ?? {};
        const token = cluster().joinToken(request, hooks().current()?.stack);
        return { json: { token, expires_in_ms: request.ttl_ms ?? DEFAULT_JOIN_TTL_MS } };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/v1/nodes/:name',
      scope: 'admin',
      summary: 'Remove a joined node: its services stop, its peers drop it (multi-node hubs)',
      response: z.object({ removed: z.string() }),
      handle: async ({ params }) => {
        await cluster().removeNode(params.name!, hooks());
        return { json: { removed: params.name! } };
      },
    }),
  ];
}
