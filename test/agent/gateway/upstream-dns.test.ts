// The gateway moves traffic between instances without reloading Caddy: the agent's feeder
// answers Caddy's SRV lookups with the healthy set the hub sent, and loads a config only when
// routes change. Real Caddy, real instance processes (node servers), real SIGKILLs.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRootCertificate } from '../../../src/agent/gateway/caddy-server.ts';
import { GatewayFeeder } from '../../../src/agent/gateway/gateway-feeder.ts';
import { gatewayState } from '../../../src/plan/caddy.ts';
import type { RouteEntry } from '../../../src/plan/routes.ts';
import type { GatewayValue } from '../../../src/protocol/desired.ts';
import { configHash } from '../../../src/state/config-hash.ts';
import { gatewayRequest, gatewayRequestOnceIssued } from '../../helpers/https-get.ts';
import { freePort } from '../../helpers/ports.ts';

const HOST = 'web.test';
/** An instance: prints its name for every request, closes idle connections after 5 s (Node's default). */
const SERVER = `require('http').createServer((q, r) => r.end(process.argv[1])).listen(Number(process.argv[2]), '127.0.0.1', () => console.log('ready'))`;

interface Instance {
  name: string;
  port: number;
  child: ChildProcess;
}

async function startInstance(name: string, port?: number): Promise<Instance> {
  const chosen = port ?? (await freePort());
  const child = spawn(process.execPath, ['-e', SERVER, name, String(chosen)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`${name} exited (${code})`)));
  });
  return { name, port: chosen, child };
}

function kill(instance: Instance): Promise<void> {
  if (instance.child.exitCode !== null || instance.child.signalCode !== null)
    return Promise.resolve();
  return new Promise((resolve) => {
    instance.child.once('exit', () => resolve());
    instance.child.kill('SIGKILL');
  });
}

describe('gateway upstreams by DNS (real Caddy)', { timeout: 60_000 }, () => {
  let dir: string;
  let feeder: GatewayFeeder;
  let ca: string;
  let httpsPort: number;
  let httpPort: number;
  const instances: Instance[] = [];

  function route(placed: readonly Instance[]): RouteEntry {
    return {
      host: HOST,
      service: 'web',
      port: 'http',
      strip_prefix: false,
      tls: 'internal',
      upstreams: placed.map((instance) => ({
        instance: instance.name,
        node: 'local',
        dial: `127.0.0.1:${instance.port}`,
      })),
      fallback: placed.map((instance) => `127.0.0.1:${instance.port}`),
    };
  }

  /** What the hub sends when `placed` run and `healthy` are reported healthy. */
  function value(placed: readonly Instance[], healthy: readonly Instance[]): GatewayValue {
    const { config, upstreams } = gatewayState(
      [route(placed)],
      (upstream) => healthy.some((instance) => instance.name === upstream.instance),
      { httpPort, httpsPort },
    );
    return { hash: configHash({ config, upstreams }), config, upstreams, abandon: [] };
  }

  async function apply(next: GatewayValue): Promise<void> {
    feeder.load(next);
    const deadline = Date.now() + 10_000;
    while (feeder.status?.config_hash !== next.hash) {
      if (feeder.status?.error) throw new Error(feeder.status.error);
      if (Date.now() > deadline) throw new Error('the feeder never applied the value');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function startFeeder(): Promise<GatewayFeeder> {
    const started = new GatewayFeeder({
      dir: path.join(dir, 'caddy'),
      stack: 'upstream-dns-test',
      event: () => undefined,
      changed: () => undefined,
    });
    await started.start();
    return started;
  }

  const get = () =>
    gatewayRequest({ host: HOST, path: '/', ca, port: httpsPort, timeoutMs: 10_000 });

  /** Requests until `done(bodies of the last few)` holds; every answer must be a 200. */
  async function until(done: (recent: string[]) => boolean): Promise<void> {
    const recent: string[] = [];
    for (let tries = 0; tries < 500; tries++) {
      const reply = await get();
      expect(reply.status, reply.body).toBe(200);
      recent.push(reply.body);
      if (recent.length > 10) recent.shift();
      if (recent.length === 10 && done(recent)) return;
    }
    throw new Error(`never: last answers ${recent.join(',')}`);
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-upstream-dns-'));
    await chmod(dir, 0o711); // Caddy's user goes through it to its own directories
    [httpPort, httpsPort] = [await freePort(), await freePort()];
    instances.push(await startInstance('web-1'), await startInstance('web-2'));
    feeder = await startFeeder();
    await apply(value(instances, instances));
    ca = await readRootCertificate({ rootCertificatePath: feeder.status!.ca_path! });
    // The tests count from the first request Caddy answers, not from its first certificate.
    await gatewayRequestOnceIssued({ host: HOST, path: '/', ca, port: httpsPort });
  });

  afterAll(async () => {
    await Promise.all(instances.map(kill));
    await feeder?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('moves traffic between instances with one config load, and Caddy never reloads', async () => {
    const [one, two] = instances as [Instance, Instance];
    await until((recent) => recent.includes('web-1') && recent.includes('web-2'));
    const loads = feeder.loads;
    expect(loads).toBe(1);

    await apply(value(instances, [two]));
    await until((recent) => recent.every((body) => body === 'web-2'));
    await apply(value(instances, [one]));
    await until((recent) => recent.every((body) => body === 'web-1'));
    await apply(value(instances, instances));
    await until((recent) => recent.includes('web-1') && recent.includes('web-2'));

    expect(feeder.loads).toBe(loads);
    expect(feeder.lookups!.records).toBeGreaterThan(0);
  });

  it('keeps serving when an instance is SIGKILLed, and leaves it out once the hub says so', async () => {
    const [one] = instances as [Instance, Instance];
    await kill(one);
    // Before the hub's update: requests to the dead instance are retried on the live one.
    for (let i = 0; i < 20; i++) expect((await get()).body).toBe('web-2');
    await apply(value(instances, [instances[1]!]));
    await until((recent) => recent.every((body) => body === 'web-2'));
    instances[0] = await startInstance('web-1', one.port);
    await apply(value(instances, instances));
    await until((recent) => recent.includes('web-1') && recent.includes('web-2'));
  });

  it('answers 503 itself while no instance is healthy, then serves again', async () => {
    const loads = feeder.loads;
    await apply(value(instances, []));
    expect(await get()).toEqual({ status: 503, body: 'no healthy instance of web\n' });
    await apply(value(instances, instances));
    await until((recent) => recent.includes('web-1') && recent.includes('web-2'));
    // The last instance going and the first coming back are the only loads health causes.
    expect(feeder.loads).toBe(loads + 2);
  });

  it('keeps serving every placed instance while the agent is away, then its sets again', async () => {
    const [one, two] = instances as [Instance, Instance];
    await apply(value(instances, [two]));
    await until((recent) => recent.every((body) => body === 'web-2'));
    feeder.detach(); // the agent goes: Caddy serves on, no one answers its lookups
    await until((recent) => recent.includes(one.name) && recent.includes(two.name));
    // The next agent adopts Caddy and answers on the same port, which Caddy's config names.
    const pid = feeder.caddyPid;
    feeder = await startFeeder();
    expect(feeder.caddyPid).toBe(pid);
    await apply(value(instances, [two]));
    await until((recent) => recent.every((body) => body === 'web-2'));
  });
});
