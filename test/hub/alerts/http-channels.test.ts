// The webhook, ntfy, Slack and Discord channels against a real HTTP receiver on loopback:
// what arrives (body, headers, signature, token), and what a refusal or a dead receiver
// gives: `ok: false` with a detail naming the host and never the URL's path (Slack,
// Discord and ntfy URLs are credentials) or a token.
import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlertMessage } from '../../../src/hub/alerts/alert-message.ts';
import { renderText, renderTitle } from '../../../src/hub/alerts/alert-message.ts';
import { ntfyTarget } from '../../../src/hub/alerts/channels/ntfy.ts';
import { sendAlert, type ResolvedAlertChannel } from '../../../src/hub/alerts/send-alert.ts';
import { verifyProof } from '../../../src/hub/webhooks/signatures.ts';
import { ROUTE_DOWN, startHttpReceiver, type HttpReceiver } from '../../helpers/alert-receivers.ts';

const message: AlertMessage = {
  ...ROUTE_DOWN,
  error: 'upstream said <!channel> @everyone & more',
};

interface DiscordBody {
  content: string;
  embeds: { description: string }[];
  allowed_mentions: unknown;
}

const SECRET_PATH = '/services/T000/B000/s3cr3t-hook-token';
let receiver: HttpReceiver;

beforeAll(async () => {
  receiver = await startHttpReceiver();
});
afterAll(() => receiver.close());
beforeEach(() => {
  receiver.requests.length = 0;
  receiver.answer.status = 200;
  receiver.answer.body = '';
});

/** The one request the receiver got, its body parsed (as the channel's shape, `Body`). */
function received<Body = unknown>(): {
  path: string;
  headers: Record<string, unknown>;
  raw: Buffer;
  json: Body;
} {
  expect(receiver.requests).toHaveLength(1);
  const [request] = receiver.requests;
  return {
    path: request!.path,
    headers: request!.headers,
    raw: request!.body,
    json: JSON.parse(request!.body.toString('utf8')) as Body,
  };
}

describe('webhook', () => {
  it('POSTs the versioned JSON document with the configured headers', async () => {
    const channel: ResolvedAlertChannel = {
      webhook: { url: `${receiver.origin}/hooks/alerts?key=abc`, headers: { 'X-Team': 'ops' } },
    };
    const result = await sendAlert(channel, message);
    expect(result).toEqual({ ok: true, detail: `HTTP 200 from ${new URL(receiver.origin).host}` });
    const { path, headers, json } = received();
    expect(path).toBe('/hooks/alerts?key=abc');
    expect(headers['x-team']).toBe('ops');
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-flotilla-signature']).toBeUndefined();
    // The message's facts under their JSON names; absent ones (duration_ms here) null.
    const { kind, stack, monitor, what, node, service, route, error, since, at } = message;
    expect(json).toEqual({
      version: 1,
      ...{ kind, stack, monitor, what, node, service, route, error, since },
      duration_ms: null,
      at,
      title: renderTitle(message),
      text: renderText(message),
    });
  });

  it('signs the exact body bytes: the right secret verifies, a wrong one does not', async () => {
    // Configured headers named like the channel's own do not replace them, in any case.
    const headers = { 'x-flotilla-SIGNATURE': 'sha256=forged', 'Content-Type': 'text/plain' };
    const channel: ResolvedAlertChannel = {
      webhook: { url: `${receiver.origin}/hook`, headers, secret: 'hook-secret' },
    };
    expect((await sendAlert(channel, message)).ok).toBe(true);
    const { headers: got, raw } = received();
    const signature = got['x-flotilla-signature'] as string;
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(got['x-flotilla-timestamp']).toBe(String(message.at));
    expect(got['content-type']).toBe('application/json');
    // A GitHub-style signature ("sha256=" + hex HMAC of the raw body): the hub's own check.
    expect(verifyProof('github', signature, 'hook-secret', raw)).toBe(true);
    expect(verifyProof('github', signature, 'wrong-secret', raw)).toBe(false);
    const tampered = Buffer.from(raw.toString('utf8').replace('"down"', '"up"'));
    expect(verifyProof('github', signature, 'hook-secret', tampered)).toBe(false);
  });

  it('a refusal is a failure quoting the answer, without the path, the query or header values', async () => {
    receiver.answer.status = 500;
    receiver.answer.body = 'boom for key=abc, s3cr3t-hook-token and Bearer hdr-token';
    const channel: ResolvedAlertChannel = {
      webhook: {
        url: `${receiver.origin}${SECRET_PATH}?key=abc`,
        headers: { Authorization: 'Bearer hdr-token', 'X-Version': '1' },
        secret: 'hook-secret',
      },
    };
    const result = await sendAlert(channel, message);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^HTTP 500 from 127\.0\.0\.1:\d+: boom for/);
    for (const secret of [SECRET_PATH, 's3cr3t', 'key=abc', 'hdr-token'])
      expect(result.detail).not.toContain(secret);
  });
});

describe('ntfy', () => {
  it('publishes JSON to the server root: topic from the URL, title, message, priority, tags, token', async () => {
    const channel: ResolvedAlertChannel = {
      ntfy: { url: `${receiver.origin}/flotilla-alerts`, token: 'tk_secret' },
    };
    expect((await sendAlert(channel, message)).ok).toBe(true);
    const { path, headers, json } = received();
    expect(path).toBe('/');
    expect(headers.authorization).toBe('Bearer tk_secret');
    expect(json).toEqual({
      topic: 'flotilla-alerts',
      title: renderTitle(message),
      message: renderText(message),
      priority: 5,
      tags: ['rotating_light', 'shop'],
    });
  });

  it('defaults the priority by kind, and a configured one wins; no token, no Authorization', async () => {
    const unconfigured: ResolvedAlertChannel = { ntfy: { url: `${receiver.origin}/topic` } };
    const configured: ResolvedAlertChannel = {
      ntfy: { url: `${receiver.origin}/topic`, priority: 2 },
    };
    await sendAlert(unconfigured, { ...message, kind: 'up', durationMs: 60_000 });
    await sendAlert(unconfigured, { ...message, kind: 'reminder' });
    await sendAlert(configured, message);
    expect(
      receiver.requests.map((request) => JSON.parse(request.body.toString()).priority),
    ).toEqual([3, 4, 2]);
    expect(receiver.requests.map((request) => request.headers.authorization)).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('finds the topic under a server mounted on a path', () => {
    expect(ntfyTarget('https://example.com/ntfy/alerts')).toEqual({
      root: 'https://example.com/ntfy/',
      topic: 'alerts',
    });
    expect(ntfyTarget('https://ntfy.sh/')).toBeUndefined();
  });

  it('a URL without a topic fails before sending, saying how to write it', async () => {
    const result = await sendAlert({ ntfy: { url: `${receiver.origin}/` } }, message);
    expect(result).toEqual({
      ok: false,
      detail: 'the ntfy URL names no topic: write it as https://<server>/<topic>',
    });
    expect(receiver.requests).toHaveLength(0);
  });

  it('a refused token is a failure naming neither the topic nor the token', async () => {
    receiver.answer.status = 403;
    receiver.answer.body =
      '{"code":40301,"http":403,"error":"forbidden: tk_secret on secret-topic"}';
    const result = await sendAlert(
      { ntfy: { url: `${receiver.origin}/secret-topic`, token: 'tk_secret' } },
      message,
    );
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^HTTP 403 from 127\.0\.0\.1:\d+: /);
    expect(result.detail).not.toContain('tk_secret');
    expect(result.detail).not.toContain('secret-topic');
  });
});

describe('slack', () => {
  it('sends one mrkdwn text, the title in bold, outside text escaped', async () => {
    expect(
      (await sendAlert({ slack: { webhook_url: `${receiver.origin}${SECRET_PATH}` } }, message)).ok,
    ).toBe(true);
    const { path, json } = received<{ text: string }>();
    expect(path).toBe(SECRET_PATH);
    expect(Object.keys(json)).toEqual(['text']);
    expect(json.text.split('\n')[0]).toBe('*[shop] DOWN route:api.example.com/*');
    expect(json.text).toContain('Last error: upstream said &lt;!channel&gt; @everyone &amp; more');
    expect(json.text).not.toContain('<!channel>');
  });
});

describe('discord', () => {
  it('sends the title as content and the body in a red embed, mentions disabled', async () => {
    expect(
      (await sendAlert({ discord: { webhook_url: `${receiver.origin}${SECRET_PATH}` } }, message))
        .ok,
    ).toBe(true);
    const { json } = received<DiscordBody>();
    expect(json.content).toBe(renderTitle(message));
    expect(json.embeds).toEqual([
      {
        title: renderTitle(message),
        description: renderText(message),
        color: 0xd93025,
        timestamp: new Date(message.at).toISOString(),
      },
    ]);
    expect(json.allowed_mentions).toEqual({ parse: [] });
  });

  it('cuts content to 2000 characters', async () => {
    const long = {
      ...message,
      monitor: undefined,
      route: undefined,
      service: undefined,
      node: undefined,
      what: 'x'.repeat(5000),
    };
    await sendAlert({ discord: { webhook_url: `${receiver.origin}/hook` } }, long);
    const { json } = received<DiscordBody>();
    expect(json.content).toHaveLength(2000);
    expect(json.content.endsWith('…')).toBe(true);
    expect(json.embeds[0]!.description.length).toBeLessThanOrEqual(4096);
  });
});

describe('a receiver that is not there', () => {
  let deadPort: number;
  beforeAll(async () => {
    // A port that was free a moment ago and that nothing listens on now.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    deadPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });

  it.each([
    ['slack', (url: string): ResolvedAlertChannel => ({ slack: { webhook_url: url } })],
    ['discord', (url: string): ResolvedAlertChannel => ({ discord: { webhook_url: url } })],
    ['webhook', (url: string): ResolvedAlertChannel => ({ webhook: { url, headers: {} } })],
    ['ntfy', (url: string): ResolvedAlertChannel => ({ ntfy: { url } })],
  ])('%s: connection refused, the host named, the path not', async (_kind, channel) => {
    const result = await sendAlert(channel(`http://127.0.0.1:${deadPort}${SECRET_PATH}`), message);
    expect(result.ok).toBe(false);
    expect(result.detail).toBe(
      `no answer from 127.0.0.1:${deadPort}: connect ECONNREFUSED 127.0.0.1:${deadPort}`,
    );
  });

  it('a channel URL that is not one fails without echoing it', async () => {
    const result = await sendAlert(
      { slack: { webhook_url: 'hooks.slack.com/services/T/B/X' } },
      message,
    );
    expect(result).toEqual({ ok: false, detail: 'the channel URL is not an http(s) URL' });
  });
});
