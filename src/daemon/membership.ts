// A node's membership of a cluster: obtained once with a join token (`flotilla agent --join`)
// and kept (0600) in the agent's state dir, so the agent restarts without a new token.
import path from 'node:path';
import { z } from 'zod';
import {
  joinAnswerSchema,
  JOIN_PATH,
  joinProof,
  openJson,
  sealedBodySchema,
  sealJson,
  type JoinAnswer,
  type JoinRequest,
  type ProvenJoinFields,
} from '../hub/join-protocol.ts';
import { JoinTokenError, parseJoinToken } from '../hub/join-token.ts';
import { ensureKeyPair } from '../mesh/keys.ts';
import { loadOrCreateIdentity } from '../secrets/store.ts';
import { readPrivateJson, writePrivateJson } from '../state/private-json.ts';

const JOIN_TIMEOUT_MS = 15_000;

/** A user-facing failure to join: the message says what to do. */
export class JoinFailed extends Error {}

export interface AgentPaths {
  /** The agent's state dir (absolute): the hub plans the node's data under it. */
  stateDir: string;
  membership: string;
  identity: string;
  wireguardKey: string;
  meshDir: string;
}

export function agentPaths(stateDir: string): AgentPaths {
  return {
    stateDir: path.resolve(stateDir),
    membership: path.join(stateDir, 'agent', 'membership.json'),
    identity: path.join(stateDir, 'agent', 'identity'),
    wireguardKey: path.join(stateDir, 'mesh', 'wireguard.key'),
    meshDir: path.join(stateDir, 'mesh'),
  };
}

/**
 * A membership as saved, older ones included: `gateway` used to be `{ admin_listen }` (or
 * absent), and there was no hub signing key (which cannot be made up: such a node joins again).
 */
const savedMembershipSchema = joinAnswerSchema.extend({
  gateway: z.preprocess(
    (gateway) => (gateway === undefined || typeof gateway === 'object' ? !!gateway : gateway),
    z.boolean(),
  ),
  hub_signing_key: joinAnswerSchema.shape.hub_signing_key.optional(),
});

export async function readMembership(paths: AgentPaths): Promise<JoinAnswer | undefined> {
  const saved = await readPrivateJson(paths.membership, savedMembershipSchema);
  if (!saved) return undefined;
  if (saved.hub_signing_key === undefined)
    throw new JoinFailed(
      `${paths.membership} was saved by an older Flotilla and lacks the hub's signing key: run \`flotilla node token --node ${saved.node}\` on the hub, then \`flotilla agent --join <token>\` here (with this state dir, the node keeps its keys)`,
    );
  return { ...saved, hub_signing_key: saved.hub_signing_key };
}

export interface JoinOptions {
  token: string;
  node?: string;
  /** This node's public address, when the stack's is not where peers reach it. */
  address?: string;
}

/** Joins the hub the token names; the membership is saved before it is returned. */
export async function joinHub(paths: AgentPaths, options: JoinOptions): Promise<JoinAnswer> {
  let payload;
  try {
    payload = parseJoinToken(options.token.trim());
  } catch (error) {
    if (error instanceof JoinTokenError) throw new JoinFailed(error.message);
    throw error;
  }
  const wireguard = await ensureKeyPair(paths.wireguardKey);
  const identity = await loadOrCreateIdentity(paths.identity);
  const fields: ProvenJoinFields = {
    wireguard_key: wireguard.publicKey,
    recipient: identity.recipient,
    state_dir: paths.stateDir,
    ...(options.node === undefined ? {} : { node: options.node }),
    ...(options.address === undefined ? {} : { endpoint: options.address }),
  };
  // Proves to the hub that this node holds its age identity: a node that has joined gets its
  // answer again only with the keys it joined with.
  const proof = joinProof(identity, payload.hubKey, payload.nonce, fields);
  if (proof === undefined)
    throw new JoinFailed(
      `the hub key in this token is not an age X25519 recipient, or ${paths.identity} is not an X25519 identity: is the token from \`flotilla node token\`?`,
    );
  const request: JoinRequest = { token: options.token.trim(), ...fields, proof };
  let response: Response;
  try {
    response = await fetch(`${payload.hubUrl}${JOIN_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(await sealJson(payload.hubKey, request)),
      signal: AbortSignal.timeout(JOIN_TIMEOUT_MS),
    });
  } catch (error) {
    throw new JoinFailed(
      `the hub at ${payload.hubUrl} did not answer (${(error as Error).message}): is \`flotilla hub\` running, and its join port open?`,
    );
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const message = z.object({ error: z.string() }).safeParse(body);
    throw new JoinFailed(
      `the hub refused to join this node: ${message.success ? message.data.error : `HTTP ${response.status}`}`,
    );
  }
  const sealed = sealedBodySchema.safeParse(body);
  const answer = sealed.success
    ? await openJson(identity.identity, sealed.data, joinAnswerSchema)
    : undefined;
  // Only the hub that read our request knows the nonce: anything else is an impostor.
  if (!answer || answer.nonce !== payload.nonce)
    throw new JoinFailed(
      `the answer from ${payload.hubUrl} is not from the hub that issued the token`,
    );
  await writePrivateJson(paths.membership, answer);
  return answer;
}
