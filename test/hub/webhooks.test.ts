// Push-to-deploy through the real HTTP server: deliveries signed exactly as GitHub, Gitea
// and GitLab sign them (built here with node:crypto, not with the code under test) start a
// deploy of the pushed commit for the hook's branch, and everything else (pings, other
// branches, tags, deletions, other events, bad payloads, unknown hooks, wrong methods) is
// answered without one. The delivery log survives a restart. One delivery goes all the way
// to a checkout of the pushed commit from a real git daemon.
import { createHmac, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FileDeliveryLog } from '../../src/hub/webhooks/deliveries.ts';
import {
  MAX_WEBHOOK_BODY_BYTES,
  WebhookReceiver,
  type DeployRequest,
  type WebhookConfig,
} from '../../src/hub/webhooks/webhook-receiver.ts';
import { startWebhookServer } from '../../src/hub/webhooks/webhook-server.ts';
import { startTestWebhookServer } from '../helpers/webhook-server.ts';
import { checkoutGitRef } from '../../src/release/git-source.ts';
import { startGitServer, type GitServer } from '../helpers/git-server.ts';

const SECRET = "It's a Secret to Everybody";
const COMMIT = 'a'.repeat(40);
const ZERO = '0'.repeat(40);

const HOOKS: Record<string, WebhookConfig> = {
  'api-github': { service: 'api', forge: 'github', secret: SECRET, branch: 'main' },
  'web-gitea': { service: 'web', forge: 'gitea', secret: SECRET, branch: 'production' },
  'worker-gitlab': { service: 'worker', forge: 'gitlab', secret: SECRET, branch: 'main' },
};

/** The headers each forge sends with a delivery of `body`, with `secret`. */
function forgeHeaders(
  forge: WebhookConfig['forge'],
  event: string,
  body: string,
  delivery: string,
  secret = SECRET,
): Record<string, string> {
  const hex = createHmac('sha256', secret).update(body).digest('hex');
  const json = { 'content-type': 'application/json' };
  switch (forge) {
    case 'github':
      return {
        ...json,
        'X-GitHub-Event': event,
        'X-GitHub-Delivery': delivery,
        'X-Hub-Signature-256': `sha256=${hex}`,
      };
    case 'gitea':
      return {
        ...json,
        'X-Gitea-Event': event,
        'X-Gitea-Delivery': delivery,
        'X-Gitea-Signature': hex,
      };
    case 'gitlab':
      return {
        ...json,
        'X-Gitlab-Event': event,
        'X-Gitlab-Event-UUID': delivery,
        'X-Gitlab-Token': secret,
      };
  }
}

/** A push payload as each forge writes it (the fields that matter, and a few that do not). */
function pushPayload(
  forge: WebhookConfig['forge'],
  ref: string,
  after: string,
  checkoutSha?: string | null,
): string {
  if (forge === 'gitlab')
    return JSON.stringify({
      object_kind: 'push',
      event_name: 'push',
      before: 'b'.repeat(40),
      after,
      ref,
      checkout_sha: checkoutSha === undefined ? after : checkoutSha,
      project: { path_with_namespace: 'acme/worker' },
    });
  return JSON.stringify({
    ref,
    before: 'b'.repeat(40),
    after,
    repository: { full_name: 'acme/api' },
    pusher: { name: 'octocat' },
    ...(after === ZERO ? { deleted: true } : {}),
  });
}

describe('webhook server (real HTTP, forge-signed deliveries)', () => {
  let dir: string;
  let url: string;
  let close: () => Promise<void>;
  let deploys: DeployRequest[];
  let waiters: ((request: DeployRequest) => void)[];

  beforeEach(async () => {
    ({ dir, url, deploys, waiters, close } = await startTestWebhookServer(HOOKS));
  });

  afterEach(() => close());

  function nextDeploy(): Promise<DeployRequest> {
    return new Promise((resolve) => waiters.push(resolve));
  }

  async function post(
    hook: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<{ status: number; message: string }> {
    const response = await fetch(`${url}/hooks/${hook}`, { method: 'POST', headers, body });
    const json = (await response.json()) as { message: string };
    return { status: response.status, message: json.message };
  }

  async function deliver(
    hook: string,
    event: string,
    body: string,
    delivery = randomUUID(),
  ): Promise<{ status: number; message: string }> {
    return post(hook, forgeHeaders(HOOKS[hook]!.forge, event, body, delivery), body);
  }

  /**
   * Runs `attempt`, then a delivery that does deploy, and waits for that deploy: deploys
   * start in the order their answers went out, so any deploy `attempt` caused came first.
   */
  async function deploysCausedBy(attempt: () => Promise<unknown>): Promise<DeployRequest[]> {
    await attempt();
    const sentinel = randomUUID();
    const deployed = nextDeploy();
    const body = pushPayload('github', 'refs/heads/main', 'c'.repeat(40));
    expect((await deliver('api-github', 'push', body, sentinel)).status).toBe(202);
    expect((await deployed).delivery).toBe(sentinel);
    return deploys.filter((request) => request.delivery !== sentinel);
  }

  it('GitHub: a push to the hook’s branch answers 202 and then deploys that commit', async () => {
    const delivery = randomUUID();
    const deployed = nextDeploy();
    const answer = await deliver(
      'api-github',
      'push',
      pushPayload('github', 'refs/heads/main', COMMIT),
      delivery,
    );
    expect(answer).toEqual({ status: 202, message: `deploying api at ${COMMIT} (branch main)` });
    expect(await deployed).toEqual({
      service: 'api',
      commit: COMMIT,
      branch: 'main',
      delivery,
      forge: 'github',
    });
  });

  it('Gitea: a push to its branch deploys; X-Gitea-Signature is the bare hex HMAC', async () => {
    const deployed = nextDeploy();
    const answer = await deliver(
      'web-gitea',
      'push',
      pushPayload('gitea', 'refs/heads/production', COMMIT),
    );
    expect(answer.status).toBe(202);
    expect(await deployed).toMatchObject({
      service: 'web',
      commit: COMMIT,
      branch: 'production',
      forge: 'gitea',
    });
  });

  it('GitLab: a Push Hook deploys its checkout_sha', async () => {
    const checkout = 'd'.repeat(40);
    const deployed = nextDeploy();
    const answer = await deliver(
      'worker-gitlab',
      'Push Hook',
      pushPayload('gitlab', 'refs/heads/main', COMMIT, checkout),
    );
    expect(answer.status).toBe(202);
    expect(await deployed).toMatchObject({ service: 'worker', commit: checkout, forge: 'gitlab' });
  });

  it('answers 200 and deploys nothing for pings, other branches, tags, deletions and other events', async () => {
    const answers: { status: number; message: string }[] = [];
    const caused = await deploysCausedBy(async () => {
      answers.push(
        await deliver('api-github', 'ping', JSON.stringify({ zen: 'Keep it logically awesome.' })),
        await deliver('api-github', 'push', pushPayload('github', 'refs/heads/dev', COMMIT)),
        await deliver('api-github', 'push', pushPayload('github', 'refs/tags/v1.0.0', COMMIT)),
        await deliver('api-github', 'push', pushPayload('github', 'refs/heads/main', ZERO)),
        await deliver('api-github', 'issues', JSON.stringify({ action: 'opened' })),
        await deliver('web-gitea', 'push', pushPayload('gitea', 'refs/heads/main', COMMIT)),
        await deliver(
          'worker-gitlab',
          'Push Hook',
          pushPayload('gitlab', 'refs/heads/main', ZERO, null),
        ),
        await deliver(
          'worker-gitlab',
          'Tag Push Hook',
          pushPayload('gitlab', 'refs/tags/v2', COMMIT),
        ),
      );
    });
    expect(caused).toEqual([]);
    expect(answers).toEqual([
      { status: 200, message: 'pong' },
      { status: 200, message: 'ignored: push to branch dev (this hook deploys branch main)' },
      { status: 200, message: 'ignored: tag v1.0.0 (this hook deploys branch main)' },
      { status: 200, message: 'ignored: branch main was deleted' },
      { status: 200, message: 'ignored: issues event (only pushes deploy)' },
      {
        status: 200,
        message: 'ignored: push to branch main (this hook deploys branch production)',
      },
      { status: 200, message: 'ignored: branch main was deleted' },
      { status: 200, message: 'ignored: Tag Push Hook event (only pushes deploy)' },
    ]);
  });

  it('a signed payload that is not a push payload is 400 with a hint, and deploys nothing', async () => {
    const answers: { status: number; message: string }[] = [];
    const caused = await deploysCausedBy(async () => {
      answers.push(
        await deliver('api-github', 'push', 'payload=%7B%7D'),
        await deliver('api-github', 'push', JSON.stringify({ ref: 'refs/heads/main' })),
        await deliver('api-github', 'push', pushPayload('github', 'refs/heads/main', 'HEAD')),
      );
    });
    expect(caused).toEqual([]);
    expect(answers.map((answer) => answer.status)).toEqual([400, 400, 400]);
    expect(answers[0]!.message).toContain('content type to application/json');
    expect(answers[1]!.message).toMatch(/not a github push event: after/);
    expect(answers[2]!.message).toMatch(/after: a commit sha/);
  });

  it('unknown hooks are 404, other paths 404, other methods 405', async () => {
    const body = pushPayload('github', 'refs/heads/main', COMMIT);
    const headers = forgeHeaders('github', 'push', body, randomUUID());
    expect(await post('nope', headers, body)).toEqual({
      status: 404,
      message: 'no webhook named "nope"',
    });
    const elsewhere = await fetch(`${url}/v1/status`, { method: 'POST', headers, body });
    expect(elsewhere.status).toBe(404);
    const get = await fetch(`${url}/hooks/api-github`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('keeps the delivery log in a 0600 file that a restarted hub still refuses replays from', async () => {
    const delivery = randomUUID();
    const body = pushPayload('github', 'refs/heads/main', COMMIT);
    expect((await deliver('api-github', 'push', body, delivery)).status).toBe(202);
    const file = path.join(dir, 'deliveries.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      hooks: { 'api-github': [delivery] },
    });
    // A new log on the same file, as after a hub restart.
    const restarted = new FileDeliveryLog(file);
    expect(await restarted.claim('api-github', delivery)).toBe(false);
    expect(await restarted.claim('web-gitea', delivery)).toBe(true);
  });
});

describe('WebhookReceiver without the server', () => {
  it('refuses a body over the cap itself (413) before recording the delivery', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-webhook-receiver-'));
    try {
      const file = path.join(dir, 'deliveries.json');
      const receiver = new WebhookReceiver({
        hook: (name) => HOOKS[name],
        deliveries: new FileDeliveryLog(file),
      });
      const body = Buffer.alloc(MAX_WEBHOOK_BODY_BYTES + 1, ' ');
      const headers = forgeHeaders('github', 'push', body.toString(), randomUUID());
      const outcome = await receiver.receive('api-github', headers, body);
      expect(outcome.status).toBe(413);
      expect(outcome.deploy).toBeUndefined();
      expect(existsSync(file)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('FileDeliveryLog', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-deliveries-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps only the last `keep` ids of a hook', async () => {
    const log = new FileDeliveryLog(path.join(dir, 'deliveries.json'), { keep: 3 });
    for (const id of ['1', '2', '3', '4']) expect(await log.claim('h', id)).toBe(true);
    expect(await log.claim('h', '4')).toBe(false);
    expect(await log.claim('h', '2')).toBe(false);
    // '1' fell off the end: the log is bounded, not a record of every delivery ever.
    expect(await log.claim('h', '1')).toBe(true);
  });

  it('two claims of one id at once: exactly one wins', async () => {
    const log = new FileDeliveryLog(path.join(dir, 'deliveries.json'));
    const results = await Promise.all([log.claim('h', 'x'), log.claim('h', 'x')]);
    expect(results.sort()).toEqual([false, true]);
  });

  it('a damaged file is an error naming it, never an empty log', async () => {
    const file = path.join(dir, 'deliveries.json');
    await writeFile(file, '{"hooks": 3}');
    await expect(new FileDeliveryLog(file).claim('h', 'x')).rejects.toThrow(
      `${file} is not in the expected format`,
    );
  });
});

describe('push to deploy, end to end with a real git daemon', () => {
  let server: GitServer;
  let dir: string;
  beforeAll(async () => {
    server = await startGitServer();
    dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-webhook-e2e-'));
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a GitHub push delivery leads to a checkout of exactly the pushed commit', async () => {
    const repo = await server.repo('api');
    await repo.commit({ 'server.js': 'old\n' });
    const pushed = await repo.commit({ 'server.js': 'new\n' });
    const receiver = new WebhookReceiver({
      hook: (name) => HOOKS[name],
      deliveries: new FileDeliveryLog(path.join(dir, 'deliveries.json')),
    });
    let deployed!: (request: DeployRequest) => void;
    const deploy = new Promise<DeployRequest>((resolve) => (deployed = resolve));
    const hooks = await startWebhookServer({
      host: '127.0.0.1',
      port: 0,
      receiver,
      onDeploy: deployed,
    });
    try {
      const body = pushPayload('github', 'refs/heads/main', pushed);
      const response = await fetch(`${hooks.url}/hooks/api-github`, {
        method: 'POST',
        headers: forgeHeaders('github', 'push', body, randomUUID()),
        body,
      });
      expect(response.status).toBe(202);
      const request = await deploy;
      const checkout = await checkoutGitRef(
        { url: repo.url, ref: request.commit },
        { tmpDir: dir },
      );
      try {
        expect(checkout.commit).toBe(pushed);
        expect(await readFile(path.join(checkout.dir, 'server.js'), 'utf8')).toBe('new\n');
      } finally {
        await checkout.cleanup();
      }
    } finally {
      await hooks.close();
    }
  });
});
