// The nats-server lifecycle: a private config, credentials made once, and a server that
// comes back from SIGKILL with its data, its port and its users. Every server is stopped
// through the child process it was started as (or by its recorded PID), never by name.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ensureBuckets } from '../../src/bus/buckets.ts';
import { connectBus, type Bus } from '../../src/bus/client.ts';
import { closeConnection, connectNats } from '../../src/bus/connection.ts';
import { busUsers, credentialsPath, ensureCredentials } from '../../src/bus/credentials.ts';
import { startBusServer, type BusServer } from '../../src/bus/server.ts';
import { recordKey } from '../../src/protocol/subjects.ts';

const servers: BusServer[] = [];
const buses: Bus[] = [];
const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-bus-'));
  dirs.push(dir);
  return dir;
}

async function start(dir: string, nodes: string[] = ['a'], port?: number): Promise<BusServer> {
  const credentials = await ensureCredentials(dir, nodes);
  const server = await startBusServer({
    dir,
    users: busUsers(credentials),
    ...(port ? { port } : {}),
  });
  servers.push(server);
  return server;
}

/** Resolves on the connection's next status event of this type (set up before causing it). */
async function statusEvent(bus: Bus, type: string): Promise<void> {
  for await (const status of bus.connection.status()) if (status.type === type) return;
}

afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('the bus server', () => {
  it('writes a private config: JetStream, loopback, no monitoring port, a user per role', async () => {
    const dir = await tempDir();
    const server = await start(dir, ['a', 'b']);
    expect((await stat(server.configPath)).mode & 0o777).toBe(0o600);
    const config = JSON.parse(await readFile(server.configPath, 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: server.port,
      jetstream: { store_dir: dir },
    });
    expect(
      Object.keys(config).filter((key) => key.startsWith('http') || key === 'monitor_port'),
    ).toEqual([]);
    const users = (config['authorization'] as { users: { user: string }[] }).users.map(
      (u) => u.user,
    );
    expect(users).toEqual(['hub', 'agent-a', 'agent-b']);
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
  });

  it('makes credentials once, keeps them 0600, and drops a node that left', async () => {
    const dir = await tempDir();
    const first = await ensureCredentials(dir, ['a', 'b']);
    const again = await ensureCredentials(dir, ['a', 'b']);
    expect(again).toEqual(first);
    expect(first.hub.pass).not.toBe(first.agents['a']!.pass);
    expect(first.hub.pass).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect((await stat(credentialsPath(dir))).mode & 0o777).toBe(0o600);
    const shrunk = await ensureCredentials(dir, ['a', 'c']);
    expect(shrunk.agents['a']).toEqual(first.agents['a']);
    expect(shrunk.agents['b']).toBeUndefined();
    expect(shrunk.agents['c']!.pass).not.toBe(first.agents['b']!.pass);
  });

  it("renews a node's password on request and logs the old holder out on reload", async () => {
    const dir = await tempDir();
    const server = await start(dir, ['a', 'b']);
    const before = await ensureCredentials(dir, ['a', 'b']);
    const old = await connectNats({ url: server.url, ...before.agents['a']!, name: 'old a' });
    const dropped = (async () => {
      for await (const status of old.status()) if (status.type === 'disconnect') return;
    })();
    const renewed = await ensureCredentials(dir, ['a', 'b'], ['a']);
    expect(renewed.agents['a']!.pass).not.toBe(before.agents['a']!.pass);
    expect(renewed.agents['b']).toEqual(before.agents['b']);
    expect(renewed.hub).toEqual(before.hub);
    await server.reload(busUsers(renewed));
    await dropped;
    await closeConnection(old);
    await expect(
      connectNats({ url: server.url, ...before.agents['a']!, name: 'old a again' }),
    ).rejects.toThrow(/authorization/i);
    const fresh = await connectNats({ url: server.url, ...renewed.agents['a']!, name: 'new a' });
    await closeConnection(fresh);
  });

  it('comes back from SIGKILL on the same port, with its data and the same users', async () => {
    const dir = await tempDir();
    const server = await start(dir);
    const credentials = await ensureCredentials(dir, ['a']);
    const hub = await connectBus({ url: server.url, ...credentials.hub, name: 'hub' });
    buses.push(hub);
    await ensureBuckets(hub);
    const revision = await hub.desired.put(recordKey('desired', 'a'), { instances: [], hosts: {} });

    const reconnected = statusEvent(hub, 'reconnect');
    process.kill(server.pid, 'SIGKILL');
    expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const restarted = await start(dir);
    expect(restarted.port).toBe(server.port);
    expect(restarted.pid).not.toBe(server.pid);

    // The hub's connection finds the same URL again and logs in with the same password.
    await reconnected;
    expect(await hub.desired.get(recordKey('desired', 'a'))).toEqual({
      key: recordKey('desired', 'a'),
      revision,
      value: { instances: [], hosts: {} },
    });
  });

  it('stops a server a crashed hub left behind before starting its own', async () => {
    const dir = await tempDir();
    const orphan = await start(dir);
    const replacement = await start(dir);
    await orphan.exited;
    expect(replacement.pid).not.toBe(orphan.pid);
  });

  it('reports why nats-server could not start', async () => {
    const dir = await tempDir();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(start(dir, ['a'], port)).rejects.toThrow(
        /exited while starting[\s\S]*address already in use/,
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
