// Push-to-deploy on the hub: the webhook listener (on the hub node's loopback, reached through
// its gateway's `gateway.webhooks` route) runs while some service has `deploy.webhook`; a
// verified push to a service's branch fetches exactly the pushed commit of `deploy.git`,
// bundles it and deploys it like `flotilla deploy --git` would, attributed to the forge.
// The forge has its 202 before any of this starts.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { BusEvent } from '../../protocol/events.ts';
import { createBundle } from '../../release/bundle.ts';
import { checkoutGitRef } from '../../release/git-source.ts';
import type { SecretStore } from '../../secrets/store.ts';
import { renderSecrets } from '../../secrets/render-secrets.ts';
import type { Stack } from '../../spec/schema.ts';
import { DeployError, type DeployStep } from '../deploy/deploy-error.ts';
import type { Deployer } from '../deploy/deployer.ts';
import { FileDeliveryLog } from './deliveries.ts';
import { startWebhookServer } from './webhook-server.ts';
import { WebhookReceiver, type DeployRequest, type WebhookConfig } from './webhook-receiver.ts';

/** The steps of a deploy that files its own failure in the audit log. */
const AUDITED_BY_DEPLOYER = new Set<DeployStep>(['build', 'release command', 'health gate']);

export interface PushDeploysOptions {
  deployer: () => Deployer;
  secrets: SecretStore;
  /** The hub's state directory: the delivery log lives there (a replay stays refused after a restart). */
  hubDir: string;
  audit: (event: Omit<BusEvent, 'at'>) => void;
  log: (line: string) => void;
}

export class PushDeploys {
  private hooks = new Map<string, WebhookConfig>();
  private sources = new Map<string, string>();
  private server: { url: string; close(): Promise<void> } | undefined;
  private port: number | undefined;
  private readonly receiver: WebhookReceiver;

  constructor(private readonly options: PushDeploysOptions) {
    this.receiver = new WebhookReceiver({
      hook: (name) => this.hooks.get(name),
      deliveries: new FileDeliveryLog(path.join(options.hubDir, 'webhook-deliveries.json')),
    });
  }

  /** After each apply: the stack's hooks with their secrets; the listener started, moved or stopped. */
  async update(stack: Stack): Promise<void> {
    const hooks = new Map<string, WebhookConfig>();
    const sources = new Map<string, string>();
    for (const [service, definition] of Object.entries(stack.services)) {
      const { webhook, git } = definition.deploy ?? {};
      if (!webhook || !git) continue;
      const secret = await renderSecrets(webhook.secret, this.options.secrets);
      if (secret === undefined || secret === '') {
        this.options.log(
          `the webhook of ${service} is off: its secret (${webhook.secret}) is not set`,
        );
        continue;
      }
      hooks.set(service, { service, forge: webhook.forge, secret, branch: git.branch });
      sources.set(service, git.url);
    }
    this.hooks = hooks;
    this.sources = sources;
    const port = hooks.size > 0 ? stack.gateway.webhooks?.port : undefined;
    if (port === this.port) return;
    await this.close();
    if (port === undefined) return;
    this.server = await startWebhookServer({
      host: '127.0.0.1',
      port,
      receiver: this.receiver,
      onDeploy: (request) => void this.deployPush(request),
    });
    this.port = port;
  }

  async close(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
    this.port = undefined;
  }

  private async deployPush(request: DeployRequest): Promise<void> {
    const { service, commit, forge } = request;
    const url = this.sources.get(service);
    if (url === undefined) return;
    const by = `webhook:${forge}`;
    const message = `push to ${request.branch} (${commit.slice(0, 12)}, delivery ${request.delivery})`;
    try {
      const checkout = await checkoutGitRef({ url, ref: commit });
      try {
        const bundle = await createBundle(checkout.dir);
        try {
          const { release } = await this.options.deployer().addRelease(
            service,
            { ...bundle, data: await readFile(bundle.file) },
            {
              source: { kind: 'git', url, ref: request.branch, commit: checkout.commit },
              by,
              message,
            },
          );
          await this.options.deployer().deploy(service, release.number, { by, message });
        } finally {
          await rm(bundle.file, { force: true });
        }
      } finally {
        await checkout.cleanup();
      }
    } catch (error) {
      // The deployer files its own failures; what failed before it (fetch, bundle) is filed here.
      if (error instanceof DeployError && AUDITED_BY_DEPLOYER.has(error.step)) return;
      const reason = (error as Error).message;
      this.options.audit({
        type: 'deploy.failed',
        service,
        message: `push-to-deploy of ${service} at ${commit.slice(0, 12)} did not deploy: ${reason}`,
        data: { by, commit, delivery: request.delivery, step: 'fetch' },
      });
      this.options.log(`push-to-deploy of ${service}: ${reason}`);
    }
  }
}
