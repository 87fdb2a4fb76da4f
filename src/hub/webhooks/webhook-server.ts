// The HTTP side of push-to-deploy: POST /hooks/<name> and nothing else. It reads the raw
// body (capped: a body over 5 MiB is answered 413 and not read further), hands it to the
// WebhookReceiver, answers at once, and only then starts the deploy: a forge times a
// delivery out after a few seconds and a deploy takes longer.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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

class BodyTooLarge extends Error {}

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

async function readBody(request: http.IncomingMessage): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > MAX_WEBHOOK_BODY_BYTES) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_WEBHOOK_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
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
}): Promise<{ url: string; close(): Promise<void> }> {
  async function handle(request: http.IncomingMessage, response: http.ServerResponse) {
    const name = hookName(new URL(request.url ?? '/', 'http://hub').pathname);
    if (name === undefined) return send(response, 404, 'webhooks are served at POST /hooks/<name>');
    if (request.method !== 'POST')
      return send(response, 405, 'a webhook takes POST only', { allow: 'POST' });
    let body: Buffer;
    try {
      body = await readBody(request);
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error;
      // The rest of the body is never read: the connection ends with the answer.
      response.once('finish', () => request.destroy());
      return send(response, 413, tooLarge(), { connection: 'close' });
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
