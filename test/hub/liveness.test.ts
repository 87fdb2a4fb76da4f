// The hub's judgement of which nodes are alive, with a real nats-server and a node that
// heartbeats from a process of its own: silence is noticed, but a hub that was itself busy
// (its event loop blocked, as by a big apply) does not call a node lost for the heartbeats
// that were queued behind it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuckets } from '../../src/bus/buckets.ts';
import { connectBus, type Bus } from '../../src/bus/client.ts';
import { busUsers, ensureCredentials, type BusCredentials } from '../../src/bus/credentials.ts';
import { HubLink } from '../../src/bus/hub-link.ts';
import { startBusServer, type BusServer } from '../../src/bus/server.ts';
import { Hub } from '../../src/hub/hub.ts';
import { STALE_AFTER_MS } from '../../src/protocol/liveness.ts';
import { HubSigningKey } from '../../src/protocol/signing.ts';
import { loadOrCreateIdentity, SecretStore } from '../../src/secrets/store.ts';

let dir: string;
let credentials: BusCredentials;
let server: BusServer;
let bus: Bus;
let hub: Hub;
let node: ChildProcess | undefined;
const log: string[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-liveness-'));
  credentials = await ensureCredentials(path.join(dir, 'bus'), ['a']);
  server = await startBusServer({ dir: path.join(dir, 'bus'), users: busUsers(credentials) });
  bus = await connectBus({ url: server.url, ...credentials.hub, name: 'hub' });
  await ensureBuckets(bus);
  const signer = await HubSigningKey.loadOrCreate(path.join(dir, 'hub', 'signing.key'));
  hub = new Hub({
    bus,
    link: new HubLink(bus.connection, signer),
    secrets: await SecretStore.open(path.join(dir, 'state')),
    stateDir: path.join(dir, 'state'),
    log: (line) => log.push(line),
  });
  hub.start();
  hub.setNodeRecipient('a', (await loadOrCreateIdentity(path.join(dir, 'identity'))).recipient);
  const { user, pass } = credentials.agents['a']!;
  node = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.resolve('test/hub/fixtures/heartbeating-node.ts'),
      server.url,
      user,
      pass,
      'a',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise((resolve) => node!.stdout!.once('data', resolve));
  for (let wait = 0; wait < 100 && !hub.nodeStatuses().has('a'); wait++) await sleep(50);
}, 30_000);

afterAll(async () => {
  if (node?.exitCode === null) node.kill('SIGKILL');
  hub?.stop();
  await bus?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the hub's liveness check", () => {
  it('does not call a heartbeating node lost because the hub itself was blocked', async () => {
    expect(hub.nodeStatuses().has('a')).toBe(true);
    // Blocked longer than a node may stay silent, while the node keeps heartbeating.
    const until = Date.now() + STALE_AFTER_MS + 1_000;
    while (Date.now() < until) {
      // busy: no timer, no socket read
    }
    await sleep(1_500);
    expect(log.filter((line) => line.includes('is lost'))).toEqual([]);
  });

  it('calls a node lost once it really went silent', async () => {
    node!.kill('SIGKILL');
    await expect
      .poll(() => log.some((line) => line.startsWith('node a is lost')), { timeout: 6_000 })
      .toBe(true);
  });
});
