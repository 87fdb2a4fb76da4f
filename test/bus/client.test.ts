// The bus as the hub and two agents see it, against a real nats-server: the hub's typed KV
// records and events stream, the hub↔agent links (signed messages to a node, reports and
// replies from it), per-node permissions, and the hub's feeds carrying on after the server
// was SIGKILLed and started again.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AgentLink } from '../../src/bus/agent-link.ts';
import { ensureBuckets } from '../../src/bus/buckets.ts';
import { connectBus, type Bus } from '../../src/bus/client.ts';
import { BusValueError } from '../../src/bus/codec.ts';
import { closeConnection, connectNats } from '../../src/bus/connection.ts';
import { busUsers, ensureCredentials, type BusCredentials } from '../../src/bus/credentials.ts';
import type { EventRecord } from '../../src/bus/events.ts';
import { HubLink, NodeRequestError } from '../../src/bus/hub-link.ts';
import type { KvChange } from '../../src/bus/kv.ts';
import { startBusServer, type BusServer } from '../../src/bus/server.ts';
import { HubInbox } from '../../src/protocol/hub-inbox.ts';
import { HubSigningKey, HubVerifier, type Signed } from '../../src/protocol/signing.ts';
import { recordKey, type FromNodeKind, type ToNodeKind } from '../../src/protocol/subjects.ts';

const desiredSchema = z.object({
  instances: z.array(z.object({ id: z.string() })),
  hosts: z.record(z.string(), z.string()),
});

let dir: string;
let credentials: BusCredentials;
let server: BusServer;
let hub: Bus;
let signer: HubSigningKey;
let hubLink: HubLink;
let a: NatsConnection;
let b: NatsConnection;
const heard: { kind: FromNodeKind; node: string; value: unknown }[] = [];
const busErrors: unknown[] = [];

function startServer(): Promise<BusServer> {
  return startBusServer({ dir, users: busUsers(credentials) });
}

const agentOf = (node: 'a' | 'b') => credentials.agents[node]!;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-bus-'));
  credentials = await ensureCredentials(dir, ['a', 'b']);
  server = await startServer();
  hub = await connectBus({
    url: server.url,
    ...credentials.hub,
    name: 'hub',
    onError: (error) => busErrors.push(error),
  });
  await ensureBuckets(hub);
  signer = await HubSigningKey.loadOrCreate(path.join(dir, 'signing.key'));
  hubLink = new HubLink(hub.connection, signer);
  hubLink.listen({
    onMessage: (kind, node, value) => void heard.push({ kind, node, value }),
    onInvalid: () => {},
  });
  a = await connectNats({ url: server.url, ...agentOf('a'), name: 'agent a' });
  b = await connectNats({ url: server.url, ...agentOf('b'), name: 'agent b' });
});

afterAll(async () => {
  hubLink?.close();
  await Promise.all([a, b].filter(Boolean).map((connection) => closeConnection(connection)));
  await hub?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the hub's records", () => {
  it('keeps revisions, typed through a schema, with compare-and-set', async () => {
    const key = recordKey('desired', 'c');
    const first = await hub.desired.put(key, { instances: [], hosts: {} });
    const second = await hub.desired.put(key, { instances: [{ id: 'web-1' }], hosts: {} });
    expect(second).toBeGreaterThan(first);
    expect(await hub.desired.get(key, desiredSchema)).toEqual({
      key,
      revision: second,
      value: { instances: [{ id: 'web-1' }], hosts: {} },
    });
    await expect(hub.desired.put(key, {}, { previousRevision: first })).rejects.toThrow(
      /wrong last sequence/,
    );
    expect(await hub.desired.get(recordKey('desired', 'nobody'))).toBeNull();
    await hub.desired.put(recordKey('desired', 'd'), { instances: 'not a list' });
    await expect(hub.desired.get(recordKey('desired', 'd'), desiredSchema)).rejects.toBeInstanceOf(
      BusValueError,
    );
  });

  it('watches a key: the current value first, then every change, deletes included', async () => {
    const key = recordKey('gateway', 'e');
    await hub.desired.put(key, { instances: [], hosts: {} });
    const changes: KvChange<z.infer<typeof desiredSchema>>[] = [];
    const watch = await hub.desired.watch(
      key,
      (change) => void changes.push(change),
      desiredSchema,
    );
    expect(changes).toMatchObject([{ kind: 'put', key }]);
    await hub.desired.delete(key);
    await expect.poll(() => changes.at(-1)?.kind).toBe('delete');
    watch.stop();
  });
});

describe('the events stream', () => {
  it('replays the last events and follows new ones, each filed under whom it is about', async () => {
    await hub.events.publish({ type: 'config.changed', message: 'stack applied' });
    // A node's event is filed under that node whatever it claims.
    await hub.events.publish(
      { type: 'health.changed', node: 'b', message: 'a says b' },
      { node: 'a' },
    );
    const replayed: EventRecord[] = [];
    const replay = await hub.events.subscribe((record) => void replayed.push(record), {
      replay: 2,
    });
    await expect.poll(() => replayed.length).toBe(2);
    expect(
      replayed.map((record) => [record.origin, record.event.node, record.event.message]),
    ).toEqual([
      ['hub', undefined, 'stack applied'],
      [{ node: 'a' }, 'a', 'a says b'],
    ]);
    replay.stop();
  });
});

describe('hub ↔ agent links', () => {
  it("delivers what the hub signs for a node to that node's agent only", async () => {
    const got = {
      a: [] as [ToNodeKind, Signed | undefined][],
      b: [] as [ToNodeKind, Signed | undefined][],
    };
    const subA = new AgentLink(a, 'a').listen((kind, signed) => void got.a.push([kind, signed]));
    const subB = new AgentLink(b, 'b').listen((kind, signed) => void got.b.push([kind, signed]));
    await Promise.all([a.flush(), b.flush()]);
    hubLink.send('a', 'directory', 7, { healthy: ['db'] });
    await expect.poll(() => got.a.length).toBe(1);
    await sleep(50);
    expect(got.b).toEqual([]);
    const [kind, signed] = got.a[0]!;
    expect(kind).toBe('directory');
    const accepted = new HubInbox(new HubVerifier(signer.publicKey), 'a').accept(kind, signed);
    expect(accepted).toEqual({
      type: 'state',
      kind: 'directory',
      revision: 7,
      body: { healthy: ['db'] },
    });
    subA.unsubscribe();
    subB.unsubscribe();
  });

  it("hears each node's reports under the node whose subject they came on", async () => {
    heard.length = 0;
    new AgentLink(a, 'a').heartbeat({
      status_hash: 'x',
      held: { desired: 1, gateway: 0, directory: 0 },
    });
    new AgentLink(b, 'b').event({ type: 'x.y', at: 1, message: 'from b' });
    await expect.poll(() => heard.length).toBe(2);
    expect(heard.map((message) => [message.kind, message.node]).sort()).toEqual([
      ['event', 'b'],
      ['heartbeat', 'a'],
    ]);
    // And counts what each kind costs, for `GET /v1/bus` and the scale bench.
    const { received } = hubLink.traffic();
    expect(received['heartbeat']?.messages).toBeGreaterThanOrEqual(1);
    expect(received['event']?.bytes).toBeGreaterThan(20);
  });

  it('gets an answer to a request from the node it went to, and only from that node', async () => {
    const linkA = new AgentLink(a, 'a');
    const inbox = new HubInbox(new HubVerifier(signer.publicKey), 'a');
    const sub = linkA.listen((kind, signed) => {
      const request = inbox.accept(kind, signed);
      if (request.type !== 'request') return;
      // b answers first with a's request id: ignored, it is not b's request.
      new AgentLink(b, 'b').reply(request.id, { ok: true, result: 'from b' });
      linkA.reply(
        request.id,
        request.verb === 'fail'
          ? { ok: false, error: 'no such service' }
          : { ok: true, result: { verb: request.verb, body: request.body } },
      );
    });
    await a.flush();
    expect(await hubLink.request('a', 'logs', { service: 'api' })).toEqual({
      verb: 'logs',
      body: { service: 'api' },
    });
    await expect(hubLink.request('a', 'fail', {})).rejects.toThrow(NodeRequestError);
    await expect(hubLink.request('b', 'logs', {}, 300)).rejects.toThrow(/did not answer/);
    sub.unsubscribe();
  });
});

describe('permissions', () => {
  /** Resolves with the server's error for what `act` does on a fresh connection, if any. */
  async function violation(
    node: 'a' | 'b',
    act: (connection: NatsConnection) => void,
  ): Promise<string | undefined> {
    const connection = await connectNats({ url: server.url, ...agentOf(node), name: 'probe' });
    let error: string | undefined;
    void (async () => {
      for await (const status of connection.status())
        if (status.type === 'error') error = String(status.data);
    })();
    act(connection);
    await connection.flush().catch(() => {});
    await sleep(100);
    await closeConnection(connection);
    return error;
  }

  it('gives an agent no JetStream API at all, not even for itself', async () => {
    for (const subject of [
      '$JS.API.INFO',
      '$JS.API.DIRECT.GET.KV_desired.$KV.desired.desired.a',
      '$JS.API.STREAM.INFO.KV_desired',
      '$JS.API.CONSUMER.CREATE.KV_desired.x.$KV.desired.desired.a',
      '$KV.desired.desired.a',
      'flotilla.events.node.a',
    ])
      expect(await violation('a', (connection) => connection.publish(subject)), subject).toMatch(
        /permissions.violation/i,
      );
  });

  it('lets an agent publish only on its own subjects, and hear only what is sent to it', async () => {
    for (const subject of [
      'flotilla.hub.status.b',
      'flotilla.hub.reply.b.abcdefgh',
      'flotilla.node.b.desired',
      'flotilla.node.a.desired',
      '_INBOX.anything',
    ])
      expect(await violation('a', (connection) => connection.publish(subject)), subject).toMatch(
        /permissions.violation/i,
      );
    for (const subject of ['flotilla.node.b.>', 'flotilla.hub.>', '_INBOX.>', '>'])
      expect(await violation('a', (connection) => connection.subscribe(subject)), subject).toMatch(
        /permissions.violation/i,
      );
    for (const subject of ['flotilla.hub.status.a', 'flotilla.hub.reply.a.abcdefgh'])
      expect(
        await violation('a', (connection) => connection.publish(subject)),
        subject,
      ).toBeUndefined();
  });
});

describe('a server restart', () => {
  it("keeps the hub's records, and its feeds carry on after SIGKILL", async () => {
    const key = recordKey('desired', 'a');
    await hub.desired.put(key, { instances: [{ id: 'api-1' }], hosts: {} });
    const changes: KvChange<z.infer<typeof desiredSchema>>[] = [];
    const watch = await hub.desired.watch(
      key,
      (change) => void changes.push(change),
      desiredSchema,
    );
    const events: string[] = [];
    const follow = await hub.events.subscribe((record) => void events.push(record.event.message));
    const before = changes.length;

    const reconnected = (async () => {
      for await (const status of hub.connection.status()) if (status.type === 'reconnect') return;
    })();
    process.kill(server.pid, 'SIGKILL');
    await server.exited;
    server = await startServer();
    await reconnected;

    expect(await hub.desired.get(key, desiredSchema)).toMatchObject({
      value: { instances: [{ id: 'api-1' }] },
    });
    await hub.desired.put(key, { instances: [{ id: 'api-1' }, { id: 'api-2' }], hosts: {} });
    await hub.events.publish({ type: 'node.back', node: 'b', message: 'b is back' }, { node: 'b' });
    await expect
      .poll(() => changes.at(-1), { timeout: 5000 })
      .toMatchObject({ kind: 'put', value: { instances: [{}, { id: 'api-2' }] } });
    expect(changes).toHaveLength(before + 1); // no replays of what it had seen
    await expect.poll(() => events, { timeout: 5000 }).toEqual(['b is back']);
    watch.stop();
    follow.stop();
    expect(busErrors).toEqual([]);
  });
});
