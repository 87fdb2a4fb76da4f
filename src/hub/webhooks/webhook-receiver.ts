// Push-to-deploy: turns one webhook delivery into at most one deploy request. The order is
// the security: the hook must exist, the forge's proof must match the hook's secret over
// the raw bytes before anything reads them, the delivery id must be new (a replay changes
// nothing), and only then is the payload parsed and the branch filtered. The answer is
// decided here; the HTTP server only carries it (webhook-server.ts).
import { readPushEvent, PushPayloadError, type PushEvent } from './push-event.ts';
import { SIGNATURE_HEADER, verifyProof, type Forge } from './signatures.ts';
import type { DeliveryLog } from './deliveries.ts';

export type { Forge } from './signatures.ts';

export interface WebhookConfig {
  service: string;
  forge: Forge;
  secret: string;
  /** The branch whose pushes deploy the service. */
  branch: string;
}

export interface DeployRequest {
  service: string;
  commit: string;
  branch: string;
  delivery: string;
  forge: Forge;
}

export type WebhookOutcome = {
  status: 202 | 200 | 400 | 401 | 404 | 413;
  body: { message: string };
  deploy?: DeployRequest;
};

/** Each forge's event and delivery-id headers, and the event names we act on. */
const FORGE_HEADERS: Record<
  Forge,
  { event: string; delivery: string; push: string; ping?: string }
> = {
  github: {
    event: 'x-github-event',
    delivery: 'x-github-delivery',
    push: 'push',
    ping: 'ping',
  },
  gitea: {
    event: 'x-gitea-event',
    delivery: 'x-gitea-delivery',
    push: 'push',
  },
  gitlab: {
    event: 'x-gitlab-event',
    delivery: 'x-gitlab-event-uuid',
    push: 'Push Hook',
  },
};

/** Far above any push payload (a push is kilobytes; GitHub caps its payloads at 25 MB). */
export const MAX_WEBHOOK_BODY_BYTES = 5 * 1024 * 1024;

/** Forges send UUIDs; anything far from that is not a delivery id we will store. */
const DELIVERY_ID = /^[A-Za-z0-9._:-]{1,128}$/;

type Headers = Record<string, string | string[] | undefined>;

/** One header's value; a header sent twice counts as absent (which copy would be meant?). */
function header(headers: Headers, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
    return value;
  }
  return undefined;
}

/** The 413 message, shared with the server, which says it before reading the rest. */
export function tooLarge(): string {
  return `the body is over ${MAX_WEBHOOK_BODY_BYTES / 1024 / 1024} MiB; a push payload never is`;
}

function answer(status: WebhookOutcome['status'], message: string): WebhookOutcome {
  return { status, body: { message } };
}

/** The answer to a push that deploys nothing. */
function ignored(event: PushEvent, branch: string): WebhookOutcome {
  switch (event.kind) {
    case 'tag':
      return answer(200, `ignored: tag ${event.tag} (this hook deploys branch ${branch})`);
    case 'other':
      return answer(200, `ignored: ${event.ref} is not a branch`);
    case 'deleted':
      return answer(200, `ignored: branch ${event.branch} was deleted`);
    case 'branch':
      return answer(
        200,
        `ignored: push to branch ${event.branch} (this hook deploys branch ${branch})`,
      );
  }
}

export class WebhookReceiver {
  constructor(
    private readonly options: {
      hook: (name: string) => WebhookConfig | undefined;
      deliveries: DeliveryLog;
    },
  ) {}

  async receive(name: string, headers: Headers, rawBody: Buffer): Promise<WebhookOutcome> {
    const config = this.options.hook(name);
    if (config === undefined) return answer(404, `no webhook named "${name}"`);
    // Also checked here, for a caller that did not stop reading at the cap itself.
    if (rawBody.length > MAX_WEBHOOK_BODY_BYTES) return answer(413, tooLarge());
    const { forge, secret } = config;
    const names = FORGE_HEADERS[forge];
    // Before anything reads the body: an unproven request learns only that it was refused.
    if (!verifyProof(forge, header(headers, SIGNATURE_HEADER[forge]), secret, rawBody))
      return answer(
        401,
        `${SIGNATURE_HEADER[forge]} is missing or does not match this hook's secret`,
      );
    const delivery = header(headers, names.delivery);
    if (delivery === undefined || !DELIVERY_ID.test(delivery))
      return answer(400, `the delivery id header ${names.delivery} is missing or malformed`);
    const event = header(headers, names.event);
    if (event === undefined) return answer(400, `the event header ${names.event} is missing`);
    if (!(await this.options.deliveries.claim(name, delivery)))
      return answer(401, `delivery ${delivery} was already received; a replay changes nothing`);

    if (event === names.ping) return answer(200, 'pong');
    if (event !== names.push) return answer(200, `ignored: ${event} event (only pushes deploy)`);
    let push: PushEvent;
    try {
      push = readPushEvent(forge, rawBody);
    } catch (error) {
      if (!(error instanceof PushPayloadError)) throw error;
      return answer(400, `${error.message} (${error.hint})`);
    }
    if (push.kind !== 'branch' || push.branch !== config.branch)
      return ignored(push, config.branch);
    return {
      status: 202,
      body: { message: `deploying ${config.service} at ${push.commit} (branch ${push.branch})` },
      deploy: {
        service: config.service,
        commit: push.commit,
        branch: push.branch,
        delivery,
        forge,
      },
    };
  }
}
