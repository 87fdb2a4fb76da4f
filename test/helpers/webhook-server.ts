// The real webhook server on loopback for tests, with a fresh delivery log, recording every
// deploy it starts: `deploys` in order, and `waiters` resolved by the next one.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileDeliveryLog } from '../../src/hub/webhooks/deliveries.ts';
import {
  WebhookReceiver,
  type DeployRequest,
  type WebhookConfig,
} from '../../src/hub/webhooks/webhook-receiver.ts';
import { startWebhookServer } from '../../src/hub/webhooks/webhook-server.ts';

export interface TestWebhookServer {
  url: string;
  dir: string;
  deploys: DeployRequest[];
  waiters: ((request: DeployRequest) => void)[];
  close(): Promise<void>;
}

export async function startTestWebhookServer(
  hooks: Record<string, WebhookConfig>,
): Promise<TestWebhookServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-webhooks-test-'));
  const deploys: DeployRequest[] = [];
  const waiters: ((request: DeployRequest) => void)[] = [];
  const receiver = new WebhookReceiver({
    hook: (name) => hooks[name],
    deliveries: new FileDeliveryLog(path.join(dir, 'deliveries.json')),
  });
  const server = await startWebhookServer({
    host: '127.0.0.1',
    port: 0,
    receiver,
    onDeploy: (request) => {
      deploys.push(request);
      waiters.shift()?.(request);
    },
  });
  return {
    url: server.url,
    dir,
    deploys,
    waiters,
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
