// Release bundles reach a node only over the hub's signed requests. A compromised node cannot
// read the bundle store (another service's code) nor push a bundle to another node: agents
// have no JetStream access at all, and only the hub may publish to a node's subjects.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuckets } from '../../src/bus/buckets.ts';
import { connectBus, type Bus } from '../../src/bus/client.ts';
import { closeConnection, connectNats } from '../../src/bus/connection.ts';
import { busUsers, ensureCredentials, type BusCredentials } from '../../src/bus/credentials.ts';
import { ReleaseStore } from '../../src/bus/release-store.ts';
import { startBusServer, type BusServer } from '../../src/bus/server.ts';
import { BUNDLES_STORE, toNode } from '../../src/protocol/subjects.ts';

const SHA = 'a'.repeat(64);
let dir: string;
let credentials: BusCredentials;
let server: BusServer;
let hubBus: Bus;
let nodeA: NatsConnection;

/** The first permission error the server sends `connection` while `act` runs. */
async function permissionError(connection: NatsConnection, act: () => Promise<unknown>) {
  const errors: string[] = [];
  const watch = (async () => {
    for await (const status of connection.status())
      if (status.type === 'error') errors.push(String(status.data));
  })();
  const outcome = await Promise.race([
    act().then(
      () => 'done',
      (error: Error) => `threw: ${error.message}`,
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('timed out'), 5_000)),
  ]);
  await connection.flush().catch(() => undefined);
  void watch;
  return { outcome, errors };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-deploy-bundles-'));
  credentials = await ensureCredentials(path.join(dir, 'bus'), ['a', 'b']);
  server = await startBusServer({ dir: path.join(dir, 'bus'), users: busUsers(credentials) });
  hubBus = await connectBus({ url: server.url, ...credentials.hub, name: 'hub' });
  await ensureBuckets(hubBus);
  const store = await ReleaseStore.open(hubBus);
  await store.putBundle(SHA, new TextEncoder().encode('the code of a service node a does not run'));
  nodeA = await connectNats({ url: server.url, ...credentials.agents['a']!, name: 'agent a' });
}, 30_000);

afterAll(async () => {
  if (nodeA) await closeConnection(nodeA);
  await hubBus?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

describe('a compromised node and the release bundles', () => {
  it('the hub reads its own bundle back (the control)', async () => {
    const store = await ReleaseStore.open(hubBus);
    expect(new TextDecoder().decode((await store.bundle(SHA))!)).toMatch(/node a does not run/);
  });

  it('cannot read the bundle store', async () => {
    const js = nodeA.jetstream({ checkAPI: false, timeout: 2_000 });
    const { outcome, errors } = await permissionError(nodeA, async () => {
      const store = await js.views.os(BUNDLES_STORE);
      return store.getBlob(SHA);
    });
    expect(outcome).toMatch(/^threw: /);
    expect(errors.join('\n')).toMatch(/PERMISSIONS_VIOLATION/);
  });

  it("cannot subscribe to the store's chunks", async () => {
    const { errors } = await permissionError(nodeA, async () => {
      nodeA.subscribe(`$O.${BUNDLES_STORE}.>`);
      await nodeA.flush();
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    expect(errors.join('\n')).toMatch(/PERMISSIONS_VIOLATION/);
  });

  it("cannot push a bundle chunk to another node's agent", async () => {
    const { errors } = await permissionError(nodeA, async () => {
      nodeA.publish(toNode('b', 'request'), new TextEncoder().encode('{"verb":"release.chunk"}'));
      await nodeA.flush();
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    expect(errors.join('\n')).toMatch(/PERMISSIONS_VIOLATION/);
  });
});
