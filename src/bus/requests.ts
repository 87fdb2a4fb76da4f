// Interactive requests from the hub to one node's agent (`flotilla.node.<id>.<verb>`):
// logs, exec, backup now. The hub signs each request with the target agent's password
// (signature.ts explains why permissions alone can't prove a request came from the hub),
// and the agent drops anything unsigned.
import type { Subscription } from 'nats';
import { z } from 'zod';
import type { Bus } from './client.ts';
import { anyJson, decodeJson, encodeJson } from './codec.ts';
import { nodeOfUser } from './credentials.ts';
import { hasValidSignature, signedHeaders } from './signature.ts';
import { nodeRequestPrefix, nodeRequestSubject } from './subjects.ts';

const DEFAULT_TIMEOUT_MS = 10_000;

const replySchema = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);

export class NodeRequestError extends Error {}

/** Hub side: asks `target.node`'s agent to do `verb`; `target.pass` is that agent's password. */
export async function requestNode(
  bus: Bus,
  target: { node: string; pass: string },
  verb: string,
  payload: unknown,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<unknown> {
  const subject = nodeRequestSubject(target.node, verb);
  const data = encodeJson(payload);
  const reply = await bus.connection.request(subject, data, {
    timeout: timeoutMs,
    headers: signedHeaders(target.pass, 'request', subject, data),
  });
  const answer = decodeJson(reply.data, replySchema);
  if (!answer.ok) throw new NodeRequestError(answer.error);
  return answer.result;
}

/**
 * Agent side: answers each signed request with what `handler` returns (or its error's
 * message); unsigned or forged messages get no answer and never reach `handler`.
 */
export function serveNodeRequests(
  bus: Bus,
  pass: string,
  handler: (verb: string, payload: unknown) => Promise<unknown>,
): Subscription {
  const node = nodeOfUser(bus.user);
  if (node === undefined) throw new Error(`${bus.user} is not an agent's bus user`);
  const prefix = `${nodeRequestPrefix(node)}.`;
  return bus.connection.subscribe(`${prefix}>`, {
    callback: (error, message) => {
      if (
        error !== null ||
        message.reply === undefined ||
        !hasValidSignature(pass, 'request', message)
      )
        return;
      const verb = message.subject.slice(prefix.length);
      void (async () => {
        let answer: z.infer<typeof replySchema>;
        try {
          answer = { ok: true, result: await handler(verb, decodeJson(message.data, anyJson)) };
        } catch (error) {
          answer = { ok: false, error: error instanceof Error ? error.message : String(error) };
        }
        message.respond(encodeJson(answer));
      })();
    },
  });
}
