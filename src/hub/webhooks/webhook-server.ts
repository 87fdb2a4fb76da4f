// The HTTP side of push-to-deploy: POST /hooks/<name> and nothing else. It reads the raw
// body (capped: a body over 5 MiB is answered 413 and not read further), hands it to the
// WebhookReceiver, answers at once, and only then starts the deploy: a forge times a
// delivery out after a few seconds and a deploy takes longer.
import http from 'node:http';
import { BodyTooLarge, closeAfterAnswer, readCappedBody } from '../http-body.ts';
import { listenHttp, type HttpListener } from '../http-listen.ts';
import {
  MAX_WEBHOOK_BODY_BYTES,
  tooLarge,
  type DeployRequest,
  type WebhookOutcome,
  type WebhookReceiver,
} from './webhook-receiver.ts';

/** A client that trickles its request is cut off rather than holding a socket for long. */
const REQUEST_TIMEOUT_MS = 30_000;

const HOOK_PATH = /^\/hooks\/([^/]+)$/;

function send(
  response: http.ServerResponse,
  status: number,
  message: string,
  extra: Record<string, string> = {},
): void {
  response.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...extra,
  });
  response.end(JSON.stringify({ message }));
}

function hookName(pathname: string): string | undefined {
  const match = HOOK_PATH.exec(pathname);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
}

/**
 * Serves `receiver` at http://host:port/hooks/<name>. `onDeploy` runs after the answer is
 * sent and is never awaited: it starts the deploy and reports its errors itself.
 */
export async function startWebhookServer(options: {
  host: string;
  port: number;
  receiver: WebhookReceiver;
  onDeploy: (request: DeployRequest) => void;
}): Promise<HttpListener> {
  async function handle(request: http.IncomingMessage, response: http.ServerResponse) {
    const name = hookName(new URL(request.url ?? '/', 'http://hub').pathname);
    if (name === undefined) return send(response, 404, 'webhooks are served at POST /hooks/<name>');
    if (request.method !== 'POST')
      return send(response, 405, 'a webhook takes POST only', { allow: 'POST' });
    let body: Buffer;
    try {
      body = await readCappedBody(request, MAX_WEBHOOK_BODY_BYTES);
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error;
      closeAfterAnswer(request, response);
      return send(response, 413, tooLarge());
    }
    const outcome: WebhookOutcome = await options.receiver.receive(name, request.headers, body);
    send(response, outcome.status, outcome.body.message);
    const deploy = outcome.deploy;
    // After the answer, and never awaited: the forge is not kept waiting for the deploy.
    if (deploy !== undefined) setImmediate(() => options.onDeploy(deploy));
  }

  const server = http.createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) return void response.destroy();
      // E.g. the delivery log could not be written: nothing was recorded, a redelivery may retry.
      send(response, 503, `the hub could not take this delivery: ${(error as Error).message}`);
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  return listenHttp(server, options.host, options.port);
}
