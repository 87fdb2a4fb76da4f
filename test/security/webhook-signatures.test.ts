// SECURITY: a webhook deploys only what the forge holding the hook's secret sent, once.
// Each attack goes through the real HTTP server: a forged signature, the signature of
// another body, a replayed delivery, a proof in another forge's header, GitLab tokens that
// differ in length or encoding (the constant-time compare must refuse them, not throw),
// and an oversized body (413, not read to its end). None may start a deploy, and the
// server keeps serving afterwards. Proofs are built with node:crypto here, as forges do.
import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyProof } from '../../src/hub/webhooks/signatures.ts';
import {
  MAX_WEBHOOK_BODY_BYTES,
  type DeployRequest,
  type WebhookConfig,
} from '../../src/hub/webhooks/webhook-receiver.ts';
import { startTestWebhookServer } from '../helpers/webhook-server.ts';

const SECRET = 'hook-secret-3f9a1c';
const HOOKS: Record<string, WebhookConfig> = {
  github: { service: 'api', forge: 'github', secret: SECRET, branch: 'main' },
  gitea: { service: 'api', forge: 'gitea', secret: SECRET, branch: 'main' },
  gitlab: { service: 'api', forge: 'gitlab', secret: SECRET, branch: 'main' },
};

const hmacHex = (body: string, secret = SECRET) =>
  createHmac('sha256', secret).update(body).digest('hex');

const push = (after: string) => JSON.stringify({ ref: 'refs/heads/main', after });
const gitlabPush = (sha: string) =>
  JSON.stringify({ object_kind: 'push', ref: 'refs/heads/main', after: sha, checkout_sha: sha });

describe('the proof each forge documents', () => {
  it("GitHub's documented example signature verifies, and nothing near it does", () => {
    // docs.github.com, "Validating webhook deliveries": this secret, this payload, this hex.
    const secret = "It's a Secret to Everybody";
    const body = Buffer.from('Hello, World!');
    const signature = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(verifyProof('github', signature, secret, body)).toBe(true);
    expect(verifyProof('github', signature.toUpperCase(), secret, body)).toBe(false);
    expect(verifyProof('github', signature.slice(7), secret, body)).toBe(false);
    expect(verifyProof('gitea', signature.slice(7), secret, body)).toBe(true);
    expect(verifyProof('github', signature, secret, Buffer.from('Hello, World!\n'))).toBe(false);
    expect(verifyProof('github', signature, '', body)).toBe(false);
  });
});

describe('SECURITY: webhook attacks start no deploy', () => {
  let url: string;
  let close: () => Promise<void>;
  let deploys: DeployRequest[];
  let waiters: ((request: DeployRequest) => void)[];

  beforeEach(async () => {
    ({ url, deploys, waiters, close } = await startTestWebhookServer(HOOKS));
  });

  afterEach(() => close());

  async function post(
    hook: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<{ status: number; message: string }> {
    const response = await fetch(`${url}/hooks/${hook}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    return {
      status: response.status,
      message: ((await response.json()) as { message: string }).message,
    };
  }

  /**
   * The deploys `attack` started: after it, a genuine delivery deploys and is waited for;
   * deploys start in the order their answers went out, so the attack's would come first.
   */
  async function deploysCausedBy(attack: () => Promise<unknown>): Promise<DeployRequest[]> {
    await attack();
    const body = push('f'.repeat(40));
    const delivery = randomUUID();
    const deployed = new Promise<DeployRequest>((resolve) => waiters.push(resolve));
    const genuine = await post(
      'github',
      {
        'X-GitHub-Event': 'push',
        'X-GitHub-Delivery': delivery,
        'X-Hub-Signature-256': `sha256=${hmacHex(body)}`,
      },
      body,
    );
    expect(genuine.status).toBe(202);
    expect((await deployed).delivery).toBe(delivery);
    return deploys.filter((request) => request.delivery !== delivery);
  }

  it('a forged signature, a signature of another body, or none: 401', async () => {
    const body = push('a'.repeat(40));
    const answers: { status: number; message: string }[] = [];
    const github = (signature: string | undefined) =>
      post(
        'github',
        {
          'X-GitHub-Event': 'push',
          'X-GitHub-Delivery': randomUUID(),
          ...(signature === undefined ? {} : { 'X-Hub-Signature-256': signature }),
        },
        body,
      );
    const caused = await deploysCausedBy(async () => {
      answers.push(
        await github(`sha256=${'0'.repeat(64)}`),
        await github(`sha256=${hmacHex(push('b'.repeat(40)))}`),
        await github(`sha256=${hmacHex(body, 'guessed-secret')}`),
        await github(`sha256=${hmacHex(body).slice(0, 63)}`),
        await github(`sha1=${createHmac('sha1', SECRET).update(body).digest('hex')}`),
        await github(undefined),
        await post(
          'gitea',
          {
            'X-Gitea-Event': 'push',
            'X-Gitea-Delivery': randomUUID(),
            'X-Gitea-Signature': hmacHex(`${body} `),
          },
          body,
        ),
      );
    });
    expect(caused).toEqual([]);
    expect(answers.map((answer) => answer.status)).toEqual([401, 401, 401, 401, 401, 401, 401]);
    expect(answers[0]!.message).toBe(
      "x-hub-signature-256 is missing or does not match this hook's secret",
    );
  });

  it('the signature is checked before the body is parsed: unsigned garbage is 401, not 400', async () => {
    const answer = await post(
      'github',
      {
        'X-GitHub-Event': 'push',
        'X-GitHub-Delivery': randomUUID(),
        'X-Hub-Signature-256': `sha256=${'1'.repeat(64)}`,
      },
      '{"ref": ',
    );
    expect(answer.status).toBe(401);
  });

  it('a replayed delivery is 401 and deploys nothing more, for every forge', async () => {
    const body = push('c'.repeat(40));
    const labBody = gitlabPush('c'.repeat(40));
    const deliveries: { hook: string; body: string; headers: Record<string, string> }[] = [
      {
        hook: 'github',
        body,
        headers: {
          'X-GitHub-Event': 'push',
          'X-GitHub-Delivery': randomUUID(),
          'X-Hub-Signature-256': `sha256=${hmacHex(body)}`,
        },
      },
      {
        hook: 'gitea',
        body,
        headers: {
          'X-Gitea-Event': 'push',
          'X-Gitea-Delivery': randomUUID(),
          'X-Gitea-Signature': hmacHex(body),
        },
      },
      {
        hook: 'gitlab',
        body: labBody,
        headers: {
          'X-Gitlab-Event': 'Push Hook',
          'X-Gitlab-Event-UUID': randomUUID(),
          'X-Gitlab-Token': SECRET,
        },
      },
    ];
    for (const { hook, body: sent, headers } of deliveries)
      expect((await post(hook, headers, sent)).status).toBe(202);
    const firstDeploys = await deploysCausedBy(async () => undefined);
    expect(firstDeploys.map((request) => request.forge)).toEqual(['github', 'gitea', 'gitlab']);

    deploys.length = 0;
    const replays: { status: number; message: string }[] = [];
    const caused = await deploysCausedBy(async () => {
      for (const { hook, body: sent, headers } of deliveries)
        replays.push(await post(hook, headers, sent));
    });
    expect(caused).toEqual([]);
    expect(replays.map((answer) => answer.status)).toEqual([401, 401, 401]);
    expect(replays[0]!.message).toMatch(/already received; a replay changes nothing/);
  });

  it("a valid proof in another forge's header is refused (each hook accepts its own only)", async () => {
    const body = push('d'.repeat(40));
    const answers: number[] = [];
    const caused = await deploysCausedBy(async () => {
      const all = {
        'X-GitHub-Event': 'push',
        'X-Gitea-Event': 'push',
        'X-Gitlab-Event': 'Push Hook',
        'X-GitHub-Delivery': randomUUID(),
        'X-Gitea-Delivery': randomUUID(),
        'X-Gitlab-Event-UUID': randomUUID(),
      };
      // GitHub hook, Gitea's header (same HMAC, other header) or GitLab's token.
      answers.push(
        (await post('github', { ...all, 'X-Gitea-Signature': hmacHex(body) }, body)).status,
      );
      answers.push((await post('github', { ...all, 'X-Gitlab-Token': SECRET }, body)).status);
      // Gitea hook, GitHub's header; GitLab hook, a signature instead of its token.
      answers.push(
        (await post('gitea', { ...all, 'X-Hub-Signature-256': `sha256=${hmacHex(body)}` }, body))
          .status,
      );
      answers.push(
        (
          await post(
            'gitlab',
            { ...all, 'X-Hub-Signature-256': `sha256=${hmacHex(body)}` },
            gitlabPush('d'.repeat(40)),
          )
        ).status,
      );
      // GitLab's token is the secret itself: sent as a Gitea "signature" it is no HMAC.
      answers.push((await post('gitea', { ...all, 'X-Gitea-Signature': SECRET }, body)).status);
    });
    expect(caused).toEqual([]);
    expect(answers).toEqual([401, 401, 401, 401, 401]);
  });

  it('GitLab tokens: near misses of every length and encoding are 401, never an error', async () => {
    const body = gitlabPush('e'.repeat(40));
    // The last: as many characters as the secret (é goes as one latin-1 byte, as headers
    // do) but one more byte in UTF-8: comparing string lengths, then timingSafeEqual on the
    // bytes, would throw on it.
    const nearMisses = [
      '',
      SECRET.slice(0, -1),
      `${SECRET}0`,
      `${SECRET.slice(0, -1)}d`,
      SECRET.toUpperCase(),
      [...SECRET].reverse().join(''),
      'x'.repeat(4096),
      `${SECRET.slice(0, -1)}é`,
    ];
    const answers: { status: number; message: string }[] = [];
    const caused = await deploysCausedBy(async () => {
      for (const token of nearMisses)
        answers.push(
          await post(
            'gitlab',
            {
              'X-Gitlab-Event': 'Push Hook',
              'X-Gitlab-Event-UUID': randomUUID(),
              'X-Gitlab-Token': token,
            },
            body,
          ),
        );
    });
    expect(caused).toEqual([]);
    expect(answers.map((answer) => answer.status)).toEqual(nearMisses.map(() => 401));
    for (const answer of answers) expect(answer.message).not.toContain(SECRET);
  });

  it('a header sent twice (which copy counts?) is refused', async () => {
    const body = push('a'.repeat(40));
    const signature = `sha256=${hmacHex(body)}`;
    const caused = await deploysCausedBy(async () => {
      const headers = new Headers({
        'content-type': 'application/json',
        'X-GitHub-Event': 'push',
        'X-GitHub-Delivery': randomUUID(),
      });
      headers.append('X-Hub-Signature-256', signature);
      headers.append('X-Hub-Signature-256', signature);
      const response = await fetch(`${url}/hooks/github`, { method: 'POST', headers, body });
      expect(response.status).toBe(401);
    });
    expect(caused).toEqual([]);
  });

  /** Streams up to `limit` bytes of body; returns the status and how much was sent. */
  async function sendHuge(
    declaredLength: boolean,
    limit: number,
  ): Promise<{ status: number | undefined; written: number }> {
    const request = http.request(`${url}/hooks/github`, {
      method: 'POST',
      headers: {
        'X-GitHub-Event': 'push',
        'X-GitHub-Delivery': randomUUID(),
        'X-Hub-Signature-256': `sha256=${'0'.repeat(64)}`,
        ...(declaredLength ? { 'content-length': String(limit) } : {}),
      },
    });
    let status: number | undefined;
    let failed = false;
    // The server closes the connection after its answer: a write after that fails (EPIPE,
    // ECONNRESET), which `once` would turn into a rejection of whichever wait is racing.
    request.on('error', () => (failed = true));
    request.on('response', (response: http.IncomingMessage) => {
      status = response.statusCode;
      response.resume();
    });
    const event = (name: string) =>
      new Promise<void>((resolve) => request.once(name, () => resolve()));
    const answered = event('response');
    const closed = event('close');
    const chunk = Buffer.alloc(64 * 1024, '{');
    let written = 0;
    while (status === undefined && !failed && written < limit) {
      written += chunk.length;
      if (!request.write(chunk)) await Promise.race([event('drain'), answered, closed]);
    }
    if (written >= limit) request.end();
    await Promise.race([answered, closed]);
    request.destroy();
    return { status, written };
  }

  it('an oversized body is 413 whether its length is declared or streamed, and is not read to its end', async () => {
    const limit = 8 * MAX_WEBHOOK_BODY_BYTES;
    const results: { status: number | undefined; written: number }[] = [];
    const caused = await deploysCausedBy(async () => {
      results.push(await sendHuge(true, limit), await sendHuge(false, limit));
    });
    expect(caused).toEqual([]);
    for (const { status, written } of results) {
      expect(status).toBe(413);
      // The answer came while the client still had most of its body to send.
      expect(written).toBeLessThan(limit);
    }
  });
});
