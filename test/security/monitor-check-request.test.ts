// A monitor check makes a node send requests where it is told: only the hub may tell it,
// and even the hub only what the check schema allows. A real agent on a real bus: forged
// `monitor.check` requests (unsigned, signed by another key, signed for another node) are
// refused and reach nothing; a genuine one naming a file: URL is refused by the schema, as
// are other schemes, other methods, a body and oversized or smuggling headers.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeRequestError } from '../../src/bus/hub-link.ts';
import { toWire } from '../../src/bus/signed-wire.ts';
import {
  checkRequestSchema,
  MAX_HEADER_BYTES,
  parseCheckRequest,
} from '../../src/monitoring/check-request.ts';
import { HubSigningKey } from '../../src/protocol/signing.ts';
import { toNode } from '../../src/protocol/subjects.ts';
import { startAgentOnBus, type AgentOnBus } from '../helpers/agent-on-bus.ts';

let bus: AgentOnBus;
let target: http.Server;
let url: string;
let hits = 0;

beforeAll(async () => {
  target = http.createServer((_request, response) => {
    hits += 1;
    response.end('ok');
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/`;
  bus = await startAgentOnBus('b');
  bus.hubLink.listen({ onMessage: () => {}, onInvalid: () => {} });
}, 30_000);

afterAll(async () => {
  await bus?.stop();
  target?.closeAllConnections();
  await new Promise((resolve) => target?.close(resolve));
}, 30_000);

describe('a forged monitor.check', () => {
  it('is refused by the agent and never runs: unsigned, signed by another key, or for another node', async () => {
    const other = await HubSigningKey.loadOrCreate(path.join(bus.dir, 'other', 'signing.key'));
    const request = (node: string) => ({
      kind: 'request' as const,
      node,
      id: randomBytes(12).toString('base64url'),
      issued_at: Date.now(),
      verb: 'monitor.check',
      body: { kind: 'http', url, timeout_ms: 2_000 },
    });
    const subject = toNode('b', 'request');
    bus.hub.publish(subject, new TextEncoder().encode(JSON.stringify(request('b'))));
    for (const signed of [other.sign(request('b')), bus.signer.sign(request('a'))]) {
      const { data, headers } = toWire(signed);
      bus.hub.publish(subject, data, { headers });
    }
    await bus.hub.flush();
    await expect.poll(() => bus.agent.status().refused.length, { timeout: 5_000 }).toBe(3);
    expect(bus.agent.status().refused.map((refusal) => refusal.reason)).toEqual([
      'an unsigned request message',
      "bad signature: not signed by this cluster's hub",
      'signed for node a, not for b',
    ]);
    // The genuine request after them runs: the forged ones had their chance to arrive first.
    await bus.hubLink.request('b', 'monitor.check', { kind: 'http', url, timeout_ms: 2_000 });
    expect(hits).toBe(1);
  });

  it("is refused when the hub's own request names a file", async () => {
    const before = hits;
    const answer = bus.hubLink.request('b', 'monitor.check', {
      kind: 'http',
      url: 'file:///etc/shadow',
      timeout_ms: 2_000,
    });
    await expect(answer).rejects.toThrow(NodeRequestError);
    await expect(answer).rejects.toThrow(/invalid check request.*not an http\(s\) URL/s);
    expect(hits).toBe(before);
  });
});

describe('the check request schema', () => {
  const http = (extra: Record<string, unknown>) =>
    checkRequestSchema.safeParse({ kind: 'http', url, timeout_ms: 1_000, ...extra });

  it('takes http and https URLs only', () => {
    for (const bad of [
      'file:///etc/passwd',
      'file:/etc/passwd',
      'ftp://example.com/x',
      'gopher://x',
    ])
      expect(http({ url: bad }).success, bad).toBe(false);
    expect(http({ url: 'https://example.com/health' }).success).toBe(true);
  });

  it('takes GET, HEAD and POST, and no body', () => {
    for (const method of ['GET', 'HEAD', 'POST']) expect(http({ method }).success).toBe(true);
    for (const method of ['DELETE', 'PUT', 'CONNECT', 'get'])
      expect(http({ method }).success, method).toBe(false);
    expect(http({ body: 'x' }).success).toBe(false);
  });

  it('takes a few one-line headers, none that frame the request', () => {
    expect(http({ headers: { Authorization: 'Bearer t' } }).success).toBe(true);
    expect(http({ headers: { 'X-A': 'one\r\nX-Injected: two' } }).success).toBe(false);
    expect(http({ headers: { 'Bad Name': 'x' } }).success).toBe(false);
    for (const name of ['Content-Length', 'transfer-encoding', 'Connection', 'Host'])
      expect(http({ headers: { [name]: '1' } }).success, name).toBe(false);
    expect(http({ headers: { 'X-Big': 'a'.repeat(MAX_HEADER_BYTES) } }).success).toBe(false);
  });

  it('bounds the timeout, and says what is wrong', () => {
    expect(http({ timeout_ms: 10 * 60_000 }).success).toBe(false);
    expect(
      checkRequestSchema.safeParse({ kind: 'tcp', host: 'db', port: 0, timeout_ms: 1_000 }).success,
    ).toBe(false);
    expect(() => parseCheckRequest({ kind: 'exec', command: ['sh'] })).toThrow(
      /^invalid check request/,
    );
  });
});
