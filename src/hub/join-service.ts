// The hub's side of `flotilla agent --join`: opens the sealed request, checks the token
// (signature, expiry, one-time use), registers the node's keys, gives it bus credentials
// and answers, sealed to the node, with what it needs to reach the hub over the mesh.
import type { Credentials } from '../bus/credentials.ts';
import { nodeNetwork } from '../mesh/node-network.ts';
import { adminListen } from '../plan/caddy.ts';
import type { Plan } from '../plan/plan.ts';
import type { Stack } from '../spec/schema.ts';
import { ApiError } from './api-server.ts';
import {
  joinRequestSchema,
  openJson,
  sealJson,
  type JoinAnswer,
  type JoinRequest,
} from './join-protocol.ts';
import { acceptJoin, JoinTokenError, UsedNonces, verifyJoinToken } from './join-token.ts';
import { ipAddressSchema, type Members } from './members.ts';

export interface JoinServiceOptions {
  /** The hub's join identity (age): requests are sealed to its recipient. */
  identity: string;
  secret: Uint8Array;
  members: Members;
  hubNode: string;
  /** The stack and plan the hub runs now. */
  current(): { stack: Stack; plan: Plan } | undefined;
  /** The bus URL on the hub's mesh address. */
  busUrl: string;
  /** Bus credentials for a node, created (and the bus reloaded) when it has none yet. */
  credentialsFor(node: string): Promise<Credentials>;
  /** Called once the node is registered: peers and desired states must be rewritten. */
  joined(node: string): Promise<void>;
}

export class JoinService {
  private readonly nonces = new UsedNonces();
  /** One join at a time: two nodes joining at once must not race on members and the bus. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: JoinServiceOptions) {}

  handle(body: { sealed: string }): Promise<{ sealed: string }> {
    const result = this.queue.then(() => this.join(body));
    this.queue = result.catch(() => {});
    return result;
  }

  private async join(body: { sealed: string }): Promise<{ sealed: string }> {
    const request = await openJson(this.options.identity, body, joinRequestSchema);
    if (!request)
      throw new ApiError(400, 'the join request could not be opened: is the token for this hub?');
    let payload;
    try {
      payload = verifyJoinToken(this.options.secret, request.token);
    } catch (error) {
      if (error instanceof JoinTokenError) throw new ApiError(403, error.message);
      throw error;
    }
    const node = this.nodeOf(request, payload.node);
    const current = this.options.current();
    if (!current?.stack.nodes[node]) {
      const names = Object.keys(current?.stack.nodes ?? {}).join(', ');
      throw new ApiError(404, `the stack has no node "${node}" (its nodes: ${names})`);
    }
    const existing = this.options.members.get(node);
    const sameKeys = existing?.wireguard_key === request.wireguard_key;
    if (acceptJoin(this.nonces, payload, sameKeys) === 'replayed')
      throw new ApiError(403, 'this join token was already used: run `flotilla node token` again');
    const endpoint = request.endpoint ?? current.stack.nodes[node]!.address;
    if (!ipAddressSchema.safeParse(endpoint).success)
      throw new ApiError(400, `node ${node} has no IP address to reach it at: pass --address`);
    await this.options.members.set(node, {
      wireguard_key: request.wireguard_key,
      endpoint,
      recipient: request.recipient,
      joined_at: existing && sameKeys ? existing.joined_at : new Date().toISOString(),
    });
    const bus = await this.options.credentialsFor(node);
    await this.options.joined(node);
    return sealJson(request.recipient, this.answer(node, payload.nonce, bus, current));
  }

  private nodeOf(request: JoinRequest, tokenNode: string | undefined): string {
    if (tokenNode !== undefined && request.node !== undefined && tokenNode !== request.node)
      throw new ApiError(403, `this join token is for node ${tokenNode}, not ${request.node}`);
    const node = tokenNode ?? request.node;
    if (node === undefined)
      throw new ApiError(400, 'which node is this? pass --node (the token names none)');
    if (node === this.options.hubNode)
      throw new ApiError(409, `${node} is the hub's own node; its agent runs in the hub`);
    return node;
  }

  private answer(
    node: string,
    nonce: string,
    bus: Credentials,
    { stack, plan }: { stack: Stack; plan: Plan },
  ): JoinAnswer {
    const { mesh } = nodeNetwork(stack, plan, this.options.members.entries(), node);
    const hub = mesh?.peers.find((peer) => peer.node === this.options.hubNode);
    if (mesh && !hub) throw new Error('the hub is not a member of its own cluster');
    return {
      nonce,
      node,
      stack: stack.name,
      ...(mesh && hub
        ? {
            mesh: {
              interface: mesh.interface,
              address: mesh.address,
              listen_port: mesh.listen_port,
              hub: {
                public_key: hub.public_key,
                endpoint: hub.endpoint,
                allowed_ips: hub.allowed_ips,
              },
            },
          }
        : {}),
      bus: { url: this.options.busUrl, ...bus },
      ...(stack.nodes[node]!.gateway
        ? { gateway: { admin_listen: adminListen(stack.gateway.admin_port) } }
        : {}),
    };
  }
}
