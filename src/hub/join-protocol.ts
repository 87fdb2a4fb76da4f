// What a joining agent and the hub say to each other over the public network, before the
// agent is on the mesh. The request is sealed (age) to the hub's join key, which the agent
// takes from the token, so only that hub can read the token inside; the answer, which
// carries the node's bus password, is sealed to the agent's own key and echoes the token's
// nonce, so an impostor that cannot read the request cannot forge an answer.
import { z } from 'zod';
import { isWireGuardKey } from '../mesh/keys.ts';
import { ipAddressSchema } from './members.ts';
import { openWith, sealTo } from '../secrets/store.ts';
import { NAME } from '../spec/schema.ts';

export const JOIN_PATH = '/v1/join';

export const joinRequestSchema = z.strictObject({
  token: z.string().max(4096),
  node: z.string().regex(NAME).optional(),
  wireguard_key: z.string().refine(isWireGuardKey, 'a WireGuard public key'),
  recipient: z.string().startsWith('age1'),
  /** The agent's public address; the stack's address for the node when absent. */
  endpoint: ipAddressSchema.optional(),
});
export type JoinRequest = z.infer<typeof joinRequestSchema>;

export const joinAnswerSchema = z.strictObject({
  nonce: z.string(),
  node: z.string().regex(NAME),
  stack: z.string(),
  /**
   * The node's WireGuard interface: enough to reach the hub (the full peer set comes on the
   * bus). Absent on a tailnet, where the node reaches the hub through Tailscale.
   */
  mesh: z
    .strictObject({
      interface: z.string(),
      address: z.string(),
      listen_port: z.number().int(),
      hub: z.strictObject({
        public_key: z.string(),
        endpoint: z.string(),
        allowed_ips: z.array(z.string()),
      }),
    })
    .optional(),
  bus: z.strictObject({ url: z.string(), user: z.string(), pass: z.string() }),
  /** Set when the node is a gateway: where its Caddy's admin API listens. */
  gateway: z.strictObject({ admin_listen: z.string() }).optional(),
});
export type JoinAnswer = z.infer<typeof joinAnswerSchema>;

/** The body both directions carry: one age-sealed JSON document. */
export const sealedBodySchema = z.strictObject({ sealed: z.string().max(64 * 1024) });

export async function sealJson(recipient: string, value: unknown): Promise<{ sealed: string }> {
  return { sealed: await sealTo(recipient, JSON.stringify(value)) };
}

export async function openJson<T>(
  identity: string,
  body: { sealed: string },
  schema: z.ZodType<T>,
): Promise<T | undefined> {
  let text: string;
  try {
    text = await openWith(identity, body.sealed);
  } catch {
    return undefined;
  }
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
