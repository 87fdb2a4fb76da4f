// A compromised node tries to take over another, for real: a real nats-server with the
// cluster's permissions, the real hub, and a real agent on node b that would run whatever
// desired state it accepts. Before the protocol was signed, agent a stored a forged desired
// state for b through a JetStream direct get whose reply subject named b's key, and the hub
// believed whatever node a status report named.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { headers, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.ts';
import { AgentLink } from '../../src/bus/agent-link.ts';
import { ensureBuckets } from '../../src/bus/buckets.ts';
import { connectBus, type Bus } from '../../src/bus/client.ts';
import { closeConnection, connectNats } from '../../src/bus/connection.ts';
import { busUsers, ensureCredentials, type BusCredentials } from '../../src/bus/credentials.ts';
import { HubLink } from '../../src/bus/hub-link.ts';
import { toWire } from '../../src/bus/signed-wire.ts';
import { startBusServer, type BusServer } from '../../src/bus/server.ts';
import { Hub } from '../../src/hub/hub.ts';
import { planStack } from '../../src/plan/plan.ts';
import type { DesiredValue } from '../../src/protocol/desired.ts';
import { HubSigningKey, type Signed } from '../../src/protocol/signing.ts';
import type { NodeStatus } from '../../src/protocol/status.ts';
import {
  fromNode,
  kvSubject,
  MONITORS_BUCKET,
  recordKey,
  toNode,
} from '../../src/protocol/subjects.ts';
import { loadOrCreateIdentity, SecretStore } from '../../src/secrets/store.ts';
import { stackSchema } from '../../src/spec/schema.ts';

let dir: string;
let credentials: BusCredentials;
let server: BusServer;
let hubBus: Bus;
let signer: HubSigningKey;
let hub: Hub;
let a: NatsConnection;
let b: NatsConnection;
let agentB: Agent;
const hubLog: string[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Node b's desired state: one process that leaves `marker` behind when it runs. */
function desiredForB(marker: string): DesiredValue {
  const stack = stackSchema.parse({
    name: 'sec',
    nodes: { a: { address: '203.0.113.1' }, b: { address: '203.0.113.2' } },
    services: {
      payload: {
        node: 'b',
        run: {
          command: [
            process.execPath,
            '-e',
            "require('fs').writeFileSync(process.argv[1], 'ran'); setInterval(() => {}, 1e6)",
            marker,
          ],
        },
      },
    },
  });
  const plan = planStack(stack, { stackDir: dir, stateDir: path.join(dir, 'state-b') });
  return { stack: 'sec', node: plan.desired['b']!, secrets: {}, backups: [] };
}

/** Publishes raw bytes as the hub's connection would: the bus being fooled, or hub credentials stolen. */
function deliverToB(signed: Signed | { payload: string; sig?: undefined }): void {
  if (signed.sig === undefined) {
    hubBus.connection.publish(toNode('b', 'desired'), new TextEncoder().encode(signed.payload));
    return;
  }
  const { data, headers: wire } = toWire(signed as Signed);
  hubBus.connection.publish(toNode('b', 'desired'), data, { headers: wire });
}

/** Node b's agent, as its daemon would start it (again, after a restart). */
function newAgentB(): Agent {
  return new Agent({
    node: 'b',
    link: new AgentLink(b, 'b'),
    hubKey: signer.publicKey,
    stack: 'sec',
    stateDir: path.join(dir, 'state-b'),
    log: () => {},
  });
}

async function refusalsOfB(count: number): Promise<NodeStatus['refused']> {
  await expect.poll(() => agentB.status().refused.length, { timeout: 5_000 }).toBe(count);
  return agentB.status().refused;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-impersonation-'));
  credentials = await ensureCredentials(path.join(dir, 'bus'), ['a', 'b']);
  server = await startBusServer({ dir: path.join(dir, 'bus'), users: busUsers(credentials) });
  hubBus = await connectBus({ url: server.url, ...credentials.hub, name: 'hub' });
  await ensureBuckets(hubBus);
  signer = await HubSigningKey.loadOrCreate(path.join(dir, 'hub', 'signing.key'));
  hub = new Hub({
    bus: hubBus,
    link: new HubLink(hubBus.connection, signer),
    secrets: await SecretStore.open(path.join(dir, 'hub-state')),
    stateDir: path.join(dir, 'hub-state'),
    log: (line) => hubLog.push(line),
  });
  hub.start();
  for (const node of ['a', 'b'])
    hub.setNodeRecipient(
      node,
      (await loadOrCreateIdentity(path.join(dir, `identity-${node}`))).recipient,
    );
  a = await connectNats({ url: server.url, ...credentials.agents['a']!, name: 'agent a' });
  b = await connectNats({ url: server.url, ...credentials.agents['b']!, name: 'agent b' });
  agentB = newAgentB();
  await agentB.start();
  await b.flush();
}, 30_000);

afterAll(async () => {
  await agentB?.stopAll();
  hub?.stop();
  for (const connection of [a, b]) if (connection) await closeConnection(connection);
  await hubBus?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

describe('a compromised node cannot make the bus write for it', () => {
  /** Publishes as agent a with a reply subject of its choosing; resolves with the server's error. */
  async function asNodeA(subject: string, reply: string, body = '{}'): Promise<string> {
    const connection = await connectNats({
      url: server.url,
      ...credentials.agents['a']!,
      name: 'attacker',
    });
    let error = '';
    void (async () => {
      for await (const status of connection.status())
        if (status.type === 'error') error = String(status.data);
    })();
    connection.publish(subject, new TextEncoder().encode(body), { reply, headers: headers() });
    await connection.flush().catch(() => {});
    await sleep(150);
    await closeConnection(connection);
    return error;
  }

  it("refuses the direct get whose reply JetStream stored as another node's desired state", async () => {
    const target = `$KV.desired.${recordKey('desired', 'b')}`;
    const attempts: [string, string][] = [
      // The attack as reproduced on the old protocol, and its variants on today's bucket.
      ['$JS.API.DIRECT.GET.KV_status.$KV.status.node.a', '$KV.desired.node.b'],
      [`$JS.API.DIRECT.GET.KV_desired.$KV.desired.${recordKey('desired', 'a')}`, target],
      ['$JS.API.CONSUMER.CREATE.KV_desired', target],
      [`$KV.desired.${recordKey('desired', 'a')}`, target],
      // Its own report subject, with JetStream's answer aimed at b's key: nobody answers.
      [fromNode('status', 'a'), target],
    ];
    for (const [subject, reply] of attempts.slice(0, 4))
      expect(await asNodeA(subject, reply), subject).toMatch(/permissions.violation/i);
    expect(await asNodeA(...attempts[4]!)).toBe('');
    await sleep(200);
    for (const key of [recordKey('desired', 'b'), 'node.b'])
      expect(await hubBus.desired.get(key), key).toBeNull();
    expect(agentB.status().desired_revision).toBe(0);
  });

  it("cannot publish to another node's subjects at all", async () => {
    expect(await asNodeA(toNode('b', 'desired'), '')).toMatch(/permissions.violation/i);
    expect(await asNodeA(fromNode('status', 'b'), '')).toMatch(/permissions.violation/i);
    // Nor report b's measurements, nor touch the hub's monitor records.
    expect(await asNodeA(fromNode('metrics', 'b'), '')).toMatch(/permissions.violation/i);
    expect(await asNodeA(kvSubject(MONITORS_BUCKET, 'm.bm9kZTpi'), '')).toMatch(
      /permissions.violation/i,
    );
  });
});

describe('an agent acts only on what the hub signed for it', () => {
  it('refuses unsigned, foreign, misdirected, tampered and replayed desired states, and says so', async () => {
    const marker = path.join(dir, 'forged-ran');
    const value = desiredForB(marker);
    const other = await HubSigningKey.loadOrCreate(path.join(dir, 'other', 'signing.key'));
    const message = (node: string, revision: number) =>
      ({ kind: 'desired', node, revision, issued_at: Date.now(), body: value }) as const;

    deliverToB({ payload: JSON.stringify(message('b', 100)) });
    deliverToB(other.sign(message('b', 100)));
    deliverToB(signer.sign(message('a', 100)));
    const genuine = signer.sign(message('b', 100));
    deliverToB({
      ...genuine,
      payload: genuine.payload.replace('"revision":100', '"revision":101'),
    });
    const refused = await refusalsOfB(4);
    expect(refused.map((refusal) => refusal.reason)).toEqual([
      'an unsigned desired message',
      "bad signature: not signed by this cluster's hub",
      'signed for node a, not for b',
      "bad signature: not signed by this cluster's hub",
    ]);
    await sleep(300);
    expect(existsSync(marker)).toBe(false);
    expect(agentB.status().instances).toEqual([]);

    // The hub's own message is acted on...
    const current = signer.sign(message('b', 200));
    deliverToB(current);
    await expect.poll(() => existsSync(marker), { timeout: 10_000 }).toBe(true);
    expect(agentB.status().instances.map((instance) => instance.id)).toEqual(['payload-1']);
    // ...and an older one it signed, replayed, is refused: the agent stays where it is.
    deliverToB(
      signer.sign({
        ...message('b', 150),
        body: { ...value, node: { ...value.node, instances: [] } },
      }),
    );
    const afterReplay = await refusalsOfB(5);
    expect(afterReplay.at(-1)?.reason).toBe(
      'desired revision 150 is older than the 200 this node holds: a replay',
    );
    await sleep(300);
    expect(agentB.status().instances.map((instance) => instance.id)).toEqual(['payload-1']);
  });

  it('refuses a saved desired state edited on the node', async () => {
    const saved = path.join(dir, 'state-b', 'agent', 'hub-state.json');
    const state = JSON.parse(await readFile(saved, 'utf8')) as { desired: Signed };
    state.desired.payload = state.desired.payload.replace('ran', 'pwned');
    await writeFile(saved, JSON.stringify(state));
    const restarted = newAgentB();
    await restarted.start();
    try {
      expect(restarted.status().refused.at(-1)).toMatchObject({
        what: 'saved desired',
        reason: "bad signature: not signed by this cluster's hub",
      });
    } finally {
      await restarted.detach();
    }
  });
});

describe("the hub takes a report's node from its subject", () => {
  it('drops a report from node a that claims to be node b, and keeps a true one', async () => {
    const report = (node: string): NodeStatus => ({
      node,
      at: Date.now(),
      agent_pid: 1,
      desired_revision: 0,
      instances: [],
      refused: [],
    });
    const linkA = new AgentLink(a, 'a');
    linkA.status({ ...report('b'), agent_pid: 4242 });
    await sleep(300);
    expect(hub.nodeStatuses().get('b')?.agent_pid).not.toBe(4242);
    expect(hubLog).toContain('ignored a status report from a that claims to be from b');
    linkA.status(report('a'));
    await expect.poll(() => hub.nodeStatuses().get('a')?.node).toBe('a');
  });
});
