// The bus as the hub and two agents see it, against a real nats-server: typed KV reads,
// writes and watches, the events stream, per-node permissions (including the ways around
// subject permissions that JetStream offers), signed requests, and watches that keep
// delivering after the server was SIGKILLed and started again.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { headers, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ensureBuckets } from '../../src/bus/buckets.ts';
import { connectBus, type Bus } from '../../src/bus/client.ts';
import { BusValueError } from '../../src/bus/codec.ts';
import { busUsers, ensureCredentials, type BusCredentials } from '../../src/bus/credentials.ts';
import type { EventRecord } from '../../src/bus/events.ts';
import type { KvChange } from '../../src/bus/kv.ts';
import { NodeRequestError, requestNode, serveNodeRequests } from '../../src/bus/requests.ts';
import { startBusServer, type BusServer } from '../../src/bus/server.ts';
import { ALL_NODES, caddyKey, desiredKey, statusKey } from '../../src/bus/subjects.ts';

const desiredSchema = z.object({
  instances: z.array(z.object({ id: z.string() })),
  hosts: z.record(z.string(), z.string()),
});
const statusSchema = z.object({ node: z.string(), at: z.number(), healthy: z.boolean() });

let dir: string;
let credentials: BusCredentials;
let server: BusServer;
let hub: Bus;
let a: Bus;
let b: Bus;
const busErrors: unknown[] = [];

async function connectAs(user: { user: string; pass: string }): Promise<Bus> {
  return connectBus({
    url: server.url,
    ...user,
    name: user.user,
    onError: (error) => busErrors.push(error),
  });
}

function startServer(): Promise<BusServer> {
  return startBusServer({ dir, users: busUsers(credentials) });
}

/** Resolves on the connection's next status event of this type (set up before causing it). */
async function statusEvent(bus: Bus, type: string): Promise<void> {
  for await (const status of bus.connection.status()) if (status.type === type) return;
}

const PERMISSION = { code: 'PERMISSIONS_VIOLATION' };
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-bus-'));
  credentials = await ensureCredentials(dir, ['a', 'b']);
  server = await startServer();
  hub = await connectAs(credentials.hub);
  await ensureBuckets(hub);
  a = await connectAs(credentials.agents['a']!);
  b = await connectAs(credentials.agents['b']!);
  await hub.desired.put(desiredKey('a'), { instances: [{ id: 'api-1' }], hosts: {} });
  await hub.desired.put(caddyKey('a'), { apps: {} });
  await hub.desired.put(desiredKey('b'), { instances: [], hosts: { api: '10.0.0.1' } });
  await hub.desired.put(caddyKey('b'), { apps: {} });
  await a.status.put(statusKey('a'), { node: 'a', at: Date.now(), healthy: true });
});

afterAll(async () => {
  await Promise.all([hub, a, b].map((bus) => bus?.close()));
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the desired and status buckets', () => {
  it('keeps revisions of desired state, typed through a schema, with compare-and-set', async () => {
    const first = await hub.desired.put(desiredKey('c'), { instances: [], hosts: {} });
    const second = await hub.desired.put(desiredKey('c'), {
      instances: [{ id: 'web-1' }],
      hosts: {},
    });
    expect(second).toBeGreaterThan(first);
    const record = await hub.desired.get(desiredKey('c'), desiredSchema);
    expect(record).toEqual({
      key: 'node.c',
      revision: second,
      value: { instances: [{ id: 'web-1' }], hosts: {} },
    });

    await expect(hub.desired.put(desiredKey('c'), {}, { previousRevision: first })).rejects.toThrow(
      /wrong last sequence/,
    );
    await expect(
      hub.desired.put(desiredKey('c'), { instances: [], hosts: {} }, { previousRevision: second }),
    ).resolves.toBeGreaterThan(second);
    expect(await hub.desired.get(desiredKey('nobody'))).toBeNull();

    const manager = await hub.connection.jetstreamManager();
    const desired = (await manager.streams.info('KV_desired')).config;
    const status = (await manager.streams.info('KV_status')).config;
    expect(desired.max_msgs_per_subject).toBeGreaterThanOrEqual(5);
    expect(status).toMatchObject({ max_age: 0, allow_rollup_hdrs: false, allow_direct: true });
  });

  it('rejects a value that does not match its schema, on get and on watch', async () => {
    await hub.desired.put(desiredKey('d'), { instances: 'not a list' });
    await expect(hub.desired.get(desiredKey('d'), desiredSchema)).rejects.toBeInstanceOf(
      BusValueError,
    );
    const changes: KvChange<unknown>[] = [];
    const watch = await hub.desired.watch(
      desiredKey('d'),
      (change) => void changes.push(change),
      desiredSchema,
    );
    watch.stop();
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ kind: 'invalid', key: 'node.d' });
  });

  it('watches a key: the current value first, then every change, deletes included', async () => {
    const changes: KvChange<z.infer<typeof desiredSchema>>[] = [];
    const watch = await hub.desired.watch(
      desiredKey('e'),
      (change) => void changes.push(change),
      desiredSchema,
    );
    expect(changes).toEqual([]); // nothing there yet, and the watch is ready
    await hub.desired.put(desiredKey('e'), { instances: [], hosts: {} });
    await expect.poll(() => changes.length).toBe(1);
    watch.stop();

    const again: KvChange<z.infer<typeof desiredSchema>>[] = [];
    const rewatch = await hub.desired.watch(
      desiredKey('e'),
      (change) => void again.push(change),
      desiredSchema,
    );
    expect(again).toEqual([
      {
        kind: 'put',
        key: 'node.e',
        revision: changes[0]!.revision,
        value: { instances: [], hosts: {} },
      },
    ]);
    await hub.desired.delete(desiredKey('e'));
    await expect.poll(() => again.at(-1)?.kind).toBe('delete');
    rewatch.stop();
  });

  it("lets every agent watch every node's status", async () => {
    const seen = new Map<string, unknown>();
    const watch = await b.status.watch(
      ALL_NODES,
      (change) => void (change.kind === 'put' && seen.set(change.key, change.value)),
      statusSchema,
    );
    expect([...seen.keys()]).toEqual(['node.a']);
    await b.status.put(statusKey('b'), { node: 'b', at: Date.now(), healthy: false });
    await expect.poll(() => seen.get('node.b')).toMatchObject({ node: 'b', healthy: false });
    watch.stop();
  });
});

describe('the events stream', () => {
  it('replays the last events and then follows new ones, each with its publisher', async () => {
    const fromEmpty: EventRecord[] = [];
    const early = await hub.events.subscribe((record) => void fromEmpty.push(record), {
      credentials,
      replay: 5,
    });
    await hub.events.publish({
      type: 'config.changed',
      message: 'stack applied',
      data: { revision: 3 },
    });
    await a.events.publish({
      type: 'health.changed',
      node: 'a',
      instance: 'api-1',
      message: 'api-1 healthy',
    });
    await b.events.publish({
      type: 'health.changed',
      node: 'b',
      message: 'b up',
      at: 1_700_000_000_000,
    });

    const replayed: EventRecord[] = [];
    const replay = await hub.events.subscribe((record) => void replayed.push(record), {
      credentials,
      replay: 2,
    });
    await expect.poll(() => replayed.length).toBe(2);
    expect(replayed.map((record) => [record.origin, record.event.message])).toEqual([
      [{ node: 'a' }, 'api-1 healthy'],
      [{ node: 'b' }, 'b up'],
    ]);
    expect(replayed[1]!.event.at).toBe(1_700_000_000_000);

    const live: EventRecord[] = [];
    const follow = await hub.events.subscribe((record) => void live.push(record), { credentials });
    await a.events.publish({ type: 'deploy.finished', service: 'api', message: 'release 7 live' });
    await expect.poll(() => live.map((record) => record.event.type)).toEqual(['deploy.finished']);
    await expect.poll(() => replayed.length).toBe(3);
    expect(live[0]!.seq).toBe(replayed[2]!.seq);
    // Asked for more than there was: it got everything, from the first event on.
    expect(fromEmpty.map((record) => record.event.message)).toEqual([
      'stack applied',
      'api-1 healthy',
      'b up',
      'release 7 live',
    ]);
    expect(fromEmpty[0]!.origin).toBe('hub');
    early.stop();
    replay.stop();
    follow.stop();

    await expect(hub.events.publish({ type: 'Not A Type', message: 'x' })).rejects.toThrow();
  });

  it("drops an event that JetStream was tricked into writing under the hub's name", async () => {
    const forged = { type: 'auth.login', at: 1, message: 'admin logged in' };
    await b.status.put(statusKey('b'), forged);
    const seen: EventRecord[] = [];
    const follow = await hub.events.subscribe((record) => void seen.push(record), { credentials });
    // B may not publish on flotilla.events.hub, but a direct get's reply-to can name it.
    b.connection.publish('$JS.API.DIRECT.GET.KV_status.$KV.status.node.b', new Uint8Array(), {
      reply: 'flotilla.events.hub',
    });
    await expect
      .poll(() => busErrors.map(String))
      .toEqual([expect.stringMatching(/on flotilla\.events\.hub: bad signature, dropped/)]);
    await hub.events.publish({ type: 'auth.login', message: 'a real login' });
    await expect.poll(() => seen.map((record) => record.event.message)).toEqual(['a real login']);
    follow.stop();
    busErrors.length = 0;
    await b.status.put(statusKey('b'), { node: 'b', at: Date.now(), healthy: true });
  });
});

describe('permissions', () => {
  it("lets a node read its own desired state and Caddy config, never another node's", async () => {
    expect(await b.desired.get(desiredKey('b'), desiredSchema)).toMatchObject({
      value: { hosts: { api: '10.0.0.1' } },
    });
    expect(await b.desired.get(caddyKey('b'))).toMatchObject({ value: { apps: {} } });
    const own: KvChange<unknown>[] = [];
    (await b.desired.watch(desiredKey('b'), (change) => void own.push(change))).stop();
    expect(own).toHaveLength(1);

    await expect(b.desired.get(desiredKey('a'))).rejects.toMatchObject(PERMISSION);
    await expect(b.desired.get(caddyKey('a'))).rejects.toMatchObject(PERMISSION);
    await expect(b.desired.watch(desiredKey('a'), () => {})).rejects.toMatchObject(PERMISSION);
    await expect(b.desired.watch('>', () => {})).rejects.toMatchObject(PERMISSION);
    await expect(b.desired.watch('node.*', () => {})).rejects.toMatchObject(PERMISSION);
    await expect(b.desired.put(desiredKey('b'), {})).rejects.toMatchObject(PERMISSION);
  });

  it("lets a node write only its own status, and read everyone's", async () => {
    await expect(
      b.status.put(statusKey('b'), { node: 'b', at: 1, healthy: true }),
    ).resolves.toBeGreaterThan(0);
    await expect(
      b.status.put(statusKey('a'), { node: 'a', at: 1, healthy: false }),
    ).rejects.toMatchObject(PERMISSION);
    await expect(b.status.delete(statusKey('a'))).rejects.toMatchObject(PERMISSION);
    expect(await b.status.get(statusKey('a'), statusSchema)).toMatchObject({
      value: { node: 'a', healthy: true },
    });
  });

  it('closes the JetStream API routes around those permissions', async () => {
    const nc = b.connection;
    // A consumer whose config filters on A's key, created through B's permitted subject.
    const mismatch = await nc.request(
      '$JS.API.CONSUMER.CREATE.KV_desired.sneak.$KV.desired.node.b',
      encode({
        stream_name: 'KV_desired',
        config: {
          name: 'sneak',
          filter_subject: '$KV.desired.node.a',
          deliver_subject: '_INBOX_b.x',
          ack_policy: 'none',
        },
      }),
    );
    expect(mismatch.json()).toMatchObject({ error: { err_code: 10131 } });
    // A direct get by sequence number (which would reach any key) through B's own key subject.
    const bySequence = await nc.request(
      '$JS.API.DIRECT.GET.KV_desired.$KV.desired.node.b',
      encode({ seq: 1 }),
    );
    expect(bySequence.headers?.code).toBe(408);
    expect(bySequence.data).toHaveLength(0);
    // The classic get, whose payload names any message: not allowed at all.
    await expect(
      nc.request('$JS.API.STREAM.MSG.GET.KV_desired', encode({ seq: 1 })),
    ).rejects.toMatchObject(PERMISSION);
    // A rollup on B's own key would purge every node's status.
    const rollup = headers();
    rollup.set('Nats-Rollup', 'all');
    const reply = await nc.request('$KV.status.node.b', encode({}), {
      headers: rollup,
      timeout: 2000,
    });
    expect(reply.json()).toMatchObject({ error: { description: 'rollup not permitted' } });
    expect(await hub.status.get(statusKey('a'))).not.toBeNull();
    // Other nodes' replies and requests, events under another name, stream management.
    await expect(subscribeFails(nc, '_INBOX.>')).resolves.toMatchObject(PERMISSION);
    await expect(subscribeFails(nc, 'flotilla.node.a.>')).resolves.toMatchObject(PERMISSION);
    await expect(nc.request('flotilla.events.hub', encode({}))).rejects.toMatchObject(PERMISSION);
    await expect(nc.request('flotilla.events.node.a', encode({}))).rejects.toMatchObject(
      PERMISSION,
    );
    await expect(nc.request('$JS.API.STREAM.DELETE.KV_status')).rejects.toMatchObject(PERMISSION);
  });

  it('lets a big watch answer JetStream flow control (a reply, not a subject it may publish to)', async () => {
    const big = 'x'.repeat(500_000);
    const keys = Array.from({ length: 8 }, (_, index) => statusKey(`big-${index}`));
    for (const key of keys) await hub.status.put(key, { big });
    const violations: unknown[] = [];
    void (async () => {
      for await (const status of a.connection.status())
        if (status.data === 'PERMISSIONS_VIOLATION') violations.push(status);
    })();
    const seen = new Set<string>();
    const watch = await a.status.watch(ALL_NODES, (change) => void seen.add(change.key));
    watch.stop();
    expect(keys.filter((key) => !seen.has(key))).toEqual([]);
    expect(violations).toEqual([]);
    for (const key of keys) await hub.status.delete(key);
  });

  it('lets the hub read and write every key', async () => {
    await expect(
      hub.status.put(statusKey('b'), { node: 'b', at: 2, healthy: true }),
    ).resolves.toBeGreaterThan(0);
    expect(await hub.desired.get(caddyKey('b'))).not.toBeNull();
    const all: string[] = [];
    (await hub.desired.watch('>', (change) => void all.push(change.key))).stop();
    expect(all).toEqual(expect.arrayContaining(['node.a', 'caddy.a', 'node.b', 'caddy.b']));
  });
});

/** Subscribes and returns the error the server answers with (or throws if none comes). */
async function subscribeFails(nc: NatsConnection, subject: string): Promise<unknown> {
  const subscription = nc.subscribe(subject);
  // Allowed subscriptions just stay quiet: give the server's refusal a second to arrive.
  const timer = setTimeout(() => subscription.unsubscribe(), 1000);
  try {
    for await (const message of subscription) throw new Error(`got ${message.subject}`);
  } catch (error) {
    return error;
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`subscribing to ${subject} was allowed`);
}

describe('requests to a node', () => {
  it('answers requests the hub signed, and ignores what JetStream can be made to send', async () => {
    const handled: string[] = [];
    const serving = serveNodeRequests(a, credentials.agents['a']!.pass, async (verb, payload) => {
      handled.push(verb);
      if (verb === 'fail') throw new Error('no such instance');
      return { echo: payload };
    });
    await a.connection.flush();
    const target = { node: 'a', pass: credentials.agents['a']!.pass };
    expect(await requestNode(hub, target, 'logs', { instance: 'api-1' })).toEqual({
      echo: { instance: 'api-1' },
    });
    await expect(requestNode(hub, target, 'fail', {})).rejects.toThrow(NodeRequestError);
    await expect(requestNode(hub, { node: 'a', pass: 'guessed' }, 'logs', {}, 500)).rejects.toThrow(
      /TIMEOUT/,
    );

    // B may not publish to A's subjects, but it can ask JetStream to answer a direct get
    // of B's own status on `flotilla.node.a.exec` — a payload B wrote, from the server.
    const raw: string[] = [];
    a.connection.subscribe('flotilla.node.a.exec', {
      callback: (_error, message) => void raw.push(message.string()),
    });
    await a.connection.flush();
    b.connection.publish('$JS.API.DIRECT.GET.KV_status.$KV.status.node.b', new Uint8Array(), {
      reply: 'flotilla.node.a.exec',
    });
    await expect.poll(() => raw.length).toBe(1);
    await sleep(50);
    expect(handled).toEqual(['logs', 'fail']);
    serving.unsubscribe();
  });
});

describe('a server restart', () => {
  it('keeps the data, and watches and event subscriptions carry on after SIGKILL', async () => {
    const desired: KvChange<z.infer<typeof desiredSchema>>[] = [];
    const agentWatch = await a.desired.watch(
      desiredKey('a'),
      (change) => void desired.push(change),
      desiredSchema,
    );
    const statuses: string[] = [];
    const hubWatch = await hub.status.watch(
      ALL_NODES,
      (change) => void (change.kind === 'put' && statuses.push(`${change.key}@${change.revision}`)),
    );
    const events: string[] = [];
    const follow = await hub.events.subscribe((record) => void events.push(record.event.message), {
      credentials,
    });
    const before = { desired: desired.length, statuses: statuses.length };

    const reconnected = Promise.all([hub, a, b].map((bus) => statusEvent(bus, 'reconnect')));
    process.kill(server.pid, 'SIGKILL');
    await server.exited;
    server = await startServer();
    await reconnected;

    expect(await hub.desired.get(desiredKey('a'), desiredSchema)).toMatchObject({
      value: { instances: [{ id: 'api-1' }] },
    });
    await hub.desired.put(desiredKey('a'), {
      instances: [{ id: 'api-1' }, { id: 'api-2' }],
      hosts: {},
    });
    await a.status.put(statusKey('a'), { node: 'a', at: Date.now(), healthy: true });
    await b.events.publish({ type: 'node.up', node: 'b', message: 'b is back' });

    await expect
      .poll(() => desired.at(-1), { timeout: 5000 })
      .toMatchObject({ kind: 'put', value: { instances: [{}, { id: 'api-2' }] } });
    expect(desired).toHaveLength(before.desired + 1); // no replays of what it had seen
    await expect.poll(() => statuses.length, { timeout: 5000 }).toBe(before.statuses + 1);
    await expect.poll(() => events, { timeout: 5000 }).toEqual(['b is back']);
    agentWatch.stop();
    hubWatch.stop();
    follow.stop();
    expect(busErrors).toEqual([]);
  });
});
