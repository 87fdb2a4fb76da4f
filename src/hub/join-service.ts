// The hub's side of `flotilla agent --join`: opens the sealed request, checks the token
// (signature, expiry, one-time use), registers the node's keys, gives it bus credentials
// and answers, sealed to the node, with what it needs to reach the hub over the mesh.
// A node that has joined keeps its keys: joining again must prove it holds them and changes
// nothing; only a token minted with `--replace` for that node gives it new ones (a leaked
// token, used or not, must not re-key a member or get its bus password).
import type { Credentials } from '../bus/credentials.ts';
import { nodeNetwork } from './node-network.ts';
import type { Plan } from '../plan/plan.ts';
import type { Stack } from '../spec/schema.ts';
import { ApiError, type RouteHandling } from './api/api-route.ts';
import {
  JOIN_PATH,
  joinProofMatches,
  joinRequestSchema,
  openJson,
  sealedBodySchema,
  sealJson,
  type AgeKeyPair,
  type JoinAnswer,
  type JoinRequest,
} from './join-protocol.ts';
import {
  JoinTokenError,
  verifyJoinToken,
  type JoinTokenPayload,
  type UsedNonces,
} from './join-token.ts';
import { ipAddressSchema } from '../spec/formats.ts';
import type { Member, Members } from './members.ts';

export interface JoinServiceOptions {
  /** The hub's join key (age): requests are sealed to its recipient, proofs keyed with it. */
  joinKey: AgeKeyPair;
  secret: Uint8Array;
  /** Nonces of the tokens already used, kept across hub restarts. */
  usedNonces: UsedNonces;
  members: Members;
  hubNode: string;
  /** The stack and plan the hub runs now. */
  current(): { stack: Stack; plan: Plan } | undefined;
  /** The bus URL on the hub's mesh address. */
  busUrl: string;
  /** Copied into every answer: what agents verify the hub's signatures with. */
  hubSigningKey: string;
  /**
   * Bus credentials for a node, created (and the bus reloaded) when it has none yet, or
   * replaced when `renew`: a re-keyed node's old machine must lose its bus login too.
   */
  credentialsFor(node: string, options?: { renew: boolean }): Promise<Credentials>;
  /**
   * The node's record changed (it joined, or got new keys): peers and desired states must be
   * rewritten. `replaced` is the member as it was, when a `--replace` token re-keyed it.
   */
  joined(node: string, replaced?: Member): Promise<void>;
}

export class JoinService {
  /** One join at a time: two nodes joining at once must not race on members and the bus. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: JoinServiceOptions) {}

  /** The public listener's one route. */
  route(): RouteHandling {
    return {
      method: 'POST',
      path: JOIN_PATH,
      body: sealedBodySchema,
      handle: async ({ body }) => ({ json: await this.handle(body as { sealed: string }) }),
    };
  }

  handle(body: { sealed: string }): Promise<{ sealed: string }> {
    const result = this.queue.then(() => this.join(body));
    this.queue = result.catch(() => {});
    return result;
  }

  private async join(body: { sealed: string }): Promise<{ sealed: string }> {
    const { joinKey, usedNonces, members } = this.options;
    const request = await openJson(joinKey.identity, body, joinRequestSchema);
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
    const endpoint = request.endpoint ?? current.stack.nodes[node]!.address;
    if (!ipAddressSchema.safeParse(endpoint).success)
      throw new ApiError(400, `node ${node} has no IP address to reach it at: pass --address`);
    const used = usedNonces.has(payload.nonce);
    const existing = members.get(node);
    if (existing && !(payload.replace && !used))
      return this.rejoin(node, existing, { request, payload, used, endpoint }, current);
    if (used)
      throw new ApiError(403, 'this join token was already used: run `flotilla node token` again');
    if (!joinProofMatches(joinKey, request.recipient, payload.nonce, request))
      throw new ApiError(403, 'the join request does not prove it holds its own age identity');
    await usedNonces.add(payload.nonce, payload.exp);
    await members.set(node, {
      wireguard_key: request.wireguard_key,
      endpoint,
      recipient: request.recipient,
      state_dir: request.state_dir,
      joined_at: new Date().toISOString(),
    });
    const bus = await this.options.credentialsFor(node, { renew: existing !== undefined });
    await this.options.joined(node, existing);
    return sealJson(request.recipient, this.answer(node, payload.nonce, bus, current));
  }

  /**
   * A member joining again (its agent re-run with `--join`): answered as it is registered,
   * sealed to its registered recipient, once it proves it holds that recipient's private key.
   * Its keys, endpoint and state dir stay as they are; only a missing state dir (a member
   * saved before agents sent one) is filled in.
   */
  private async rejoin(
    node: string,
    existing: Member,
    { request, payload, used, endpoint }: Attempt,
    current: { stack: Stack; plan: Plan },
  ): Promise<{ sealed: string }> {
    const onHub = `run \`flotilla node token --node ${node} --replace\` on the hub`;
    const refuse = (status: number, why: string, hint: string) =>
      used
        ? new ApiError(403, `this join token was already used, and ${why}: ${hint}`)
        : new ApiError(status, `${why}: ${hint}`);
    if (
      request.wireguard_key !== existing.wireguard_key ||
      request.recipient !== existing.recipient
    )
      throw refuse(
        409,
        `node ${node} has already joined with other keys`,
        `to replace them, ${onHub}`,
      );
    if (!joinProofMatches(this.options.joinKey, existing.recipient, payload.nonce, request))
      throw refuse(
        403,
        `the request does not prove it holds node ${node}'s private key`,
        `join from that node's own state dir (its keys are there), or to replace them, ${onHub}`,
      );
    const moved =
      endpoint !== existing.endpoint
        ? `at ${existing.endpoint}, not ${endpoint}`
        : existing.state_dir !== undefined && existing.state_dir !== request.state_dir
          ? `with state dir ${existing.state_dir}, not ${request.state_dir}`
          : undefined;
    if (moved) throw refuse(409, `node ${node} has joined ${moved}`, `to move it, ${onHub}`);
    if (!used) await this.options.usedNonces.add(payload.nonce, payload.exp);
    const bus = await this.options.credentialsFor(node);
    if (existing.state_dir === undefined) {
      await this.options.members.set(node, { ...existing, state_dir: request.state_dir });
      await this.options.joined(node);
    }
    return sealJson(existing.recipient, this.answer(node, payload.nonce, bus, current));
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
      gateway: stack.nodes[node]!.gateway === true,
      hub_signing_key: this.options.hubSigningKey,
    };
  }
}

/** A verified request for a node, before it is accepted. */
interface Attempt {
  request: JoinRequest;
  payload: JoinTokenPayload;
  /** The token's nonce was already used. */
  used: boolean;
  /** Where the node's peers will reach it. */
  endpoint: string;
}
