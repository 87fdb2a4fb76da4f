// `flotilla up` on this machine with real processes, real Caddy and real NATS: crashes,
// adoption after the agent dies, a killed Caddy, a rejected change, and `down`.
// One file on purpose: every stack here uses the gateway's fixed ports, so they run in turn.
import {
  chmod,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupUpstreams } from '../../src/agent/gateway/upstream-lookup.ts';
import { upstreamName } from '../../src/plan/caddy.ts';
import { readProcStat } from '../../src/system/proc.ts';
import type { StatusReport } from '../../src/hub/status-report.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';
import { gatewayRequest } from '../helpers/https-get.ts';

interface Stack {
  file: string;
  stateDir: string;
  env: NodeJS.ProcessEnv;
}

const cleanups: (() => Promise<void>)[] = [];

async function newStack(source: string, extraFiles: string[] = []): Promise<Stack> {
  const dir = await mkdtemp(path.join(tmpdir(), 'flotilla-life-'));
  // Service users (postgres) must be able to traverse to their data dir.
  await chmod(dir, 0o755);
  const stateDir = path.join(dir, 'state');
  await cp(source, path.join(dir, 'flotilla.yml'));
  for (const file of extraFiles) await cp(file, path.join(dir, path.basename(file)));
  const stack = {
    file: path.join(dir, 'flotilla.yml'),
    stateDir,
    env: { FLOTILLA_STATE_DIR: stateDir },
  };
  cleanups.push(async () => {
    await flotilla(['down', '-f', stack.file], stack.env);
    await rm(dir, { recursive: true, force: true });
  });
  return stack;
}

async function status(stack: Stack): Promise<StatusReport> {
  const result = await flotilla(['status', '--json', '-f', stack.file], stack.env);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as StatusReport;
}

function alive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** Every process the stack runs: instances, Caddy, nats-server and the daemon. */
async function stackProcesses(stack: Stack, report: StatusReport): Promise<number[]> {
  const record = async (file: string) =>
    (JSON.parse(await readFile(file, 'utf8')) as { pid: number }).pid;
  return [
    ...report.instances.map((instance) => instance.pid!),
    await record(path.join(stack.stateDir, 'caddy', 'caddy.json')),
    Number((await readFile(path.join(stack.stateDir, 'bus', 'nats.pid'), 'utf8')).trim()),
    await record(path.join(stack.stateDir, 'hub', 'api.json')),
  ];
}

async function caCert(stack: Stack): Promise<string> {
  return readFile(
    path.join(stack.stateDir, 'caddy', 'storage', 'pki', 'authorities', 'local', 'root.crt'),
    'utf8',
  );
}

/** The upstream dials the gateway serves web.localhost from right now (its DNS answer). */
function servedUpstreams(stack: Stack): Promise<string[]> {
  return lookupUpstreams(
    path.join(stack.stateDir, 'caddy'),
    upstreamName({ service: 'web', port: 'http' }),
  );
}

async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// Each cleanup is a `flotilla down`: seconds each, more on a loaded machine.
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
}, 120_000);

describe('the quickstart', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await newStack('examples/quickstart/flotilla.yml');
    // The quickstart's relative paths resolve from its own folder: use it in place.
    stack.file = path.resolve('examples/quickstart/flotilla.yml');
  });

  it('comes up healthy and routed, writes to PostgreSQL through the gateway, and keeps its data across down/up', async () => {
    // The daemon inherits this; no service may.
    const up = await flotilla(['up', '--detach', '-f', stack.file], {
      ...stack.env,
      AGENT_ONLY_MARKER: 'leak-check',
    });
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toContain('every service healthy and routed');
    const ca = await caCert(stack);

    const report = await status(stack);
    const environ = async (id: string) => {
      const pid = report.instances.find((instance) => instance.id === id)!.pid!;
      return (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter(Boolean);
    };
    const [apiEnv, siteEnv] = [await environ('api-1'), await environ('site-1')];
    expect(apiEnv).toContain('PORT=3000');
    expect(siteEnv).toContain('PORT=3100');
    expect(siteEnv.some((entry) => entry.startsWith('DATABASE_URL='))).toBe(false);
    expect([...apiEnv, ...siteEnv].some((entry) => entry.includes('leak-check'))).toBe(false);

    const visit = await gatewayRequest({
      host: 'api.localhost',
      path: '/visits',
      method: 'POST',
      ca,
    });
    expect(visit.status).toBe(200);
    const counted = await gatewayRequest({ host: 'quickstart.localhost', path: '/api/visits', ca });
    expect(JSON.parse(counted.body)).toMatchObject({ visits: 1 });
    await gatewayRequest({ host: 'api.localhost', path: '/jobs', method: 'POST', ca });
    await eventually(
      async () => {
        const done = await gatewayRequest({ host: 'api.localhost', path: '/jobs/done', ca });
        return JSON.parse(done.body).done === 1 ? true : undefined;
      },
      10_000,
      'the worker to take the job from Redis into PostgreSQL',
    );
    const site = await gatewayRequest({ host: 'quickstart.localhost', path: '/', ca });
    expect(site.body).toContain('Flotilla quickstart');
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++)
      seen.add(
        JSON.parse((await gatewayRequest({ host: 'api.localhost', path: '/', ca })).body).instance,
      );
    expect([...seen].sort()).toEqual(['api-1', 'api-2']);

    const before = await stackProcesses(stack, await status(stack));
    const down = await flotilla(['down', '-f', stack.file], stack.env);
    expect(down.code, down.stderr).toBe(0);
    expect(before.filter(alive)).toEqual([]);

    expect((await flotilla(['up', '--detach', '-f', stack.file], stack.env)).code).toBe(0);
    const again = await gatewayRequest({
      host: 'api.localhost',
      path: '/visits',
      ca: await caCert(stack),
    });
    expect(JSON.parse(again.body)).toMatchObject({ visits: 1 });
    expect((await flotilla(['down', '-f', stack.file], stack.env)).code).toBe(0);
  }, 120_000);
});

describe('a port another program holds', () => {
  it('fails the instance with the port named instead of starting it', async () => {
    const stack = await newStack('test/daemon/fixtures/web.yml', [
      'test/daemon/fixtures/echo-server.js',
    ]);
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(47100, '127.0.0.1', resolve));
    try {
      const up = await flotilla(['up', '--detach', '--timeout', '20', '-f', stack.file], stack.env);
      expect(up.code).toBe(1);
      expect(up.stdout + up.stderr).toContain(
        'port 47100 is already in use on this node by another program',
      );
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
      await flotilla(['down', '-f', stack.file], stack.env);
    }
  }, 60_000);
});

describe('a working directory its user cannot enter', () => {
  it('fails the instance at once, naming the directory and the user, in up and status', async () => {
    const stack = await newStack('test/daemon/fixtures/locked-cwd.yml');
    const app = path.join(path.dirname(stack.file), 'app');
    await mkdir(app, { mode: 0o700 });
    await cp('test/daemon/fixtures/echo-server.js', path.join(app, 'echo-server.js'));
    const reason = `cannot enter ${app} as user nobody: permission denied`;
    try {
      // No backoff restarts first: a start that cannot succeed is reported as it is.
      const up = await flotilla(['up', '--detach', '--timeout', '60', '-f', stack.file], stack.env);
      expect(up.code).toBe(1);
      expect(up.stdout + up.stderr).toContain(reason);
      const [instance] = (await status(stack)).instances;
      expect(instance).toMatchObject({ state: 'failed', restarts: 0 });
      expect(instance!.reason).toContain(reason);
    } finally {
      // Its gateway holds the host's ports the next stacks here need.
      await flotilla(['down', '-f', stack.file], stack.env);
    }
  }, 90_000);
});

describe('a two-replica service', () => {
  let stack: Stack;
  let ca: string;
  beforeAll(async () => {
    stack = await newStack('test/daemon/fixtures/web.yml', ['test/daemon/fixtures/echo-server.js']);
    const up = await flotilla(['up', '--detach', '-f', stack.file], stack.env);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    ca = await caCert(stack);
  }, 60_000);

  it('restarts a crashed instance, taking it out of the route table while it is down', async () => {
    const crashed = (await status(stack)).instances.find((instance) => instance.id === 'web-1')!;
    process.kill(crashed.pid!, 'SIGKILL');
    const dial = `127.0.0.1:${crashed.ports.http}`;
    await eventually(
      async () => ((await servedUpstreams(stack)).includes(dial) ? undefined : true),
      2000,
      'web-1 to leave the routes',
    );
    const back = await eventually(
      async () => {
        const instance = (await status(stack)).instances.find(
          (candidate) => candidate.id === 'web-1',
        )!;
        return instance.healthy && instance.pid !== crashed.pid ? instance : undefined;
      },
      10_000,
      'web-1 to be restarted',
    );
    expect(back.restarts).toBe(1);
    expect(back.last_exit?.signal).toBe('SIGKILL');
    await eventually(
      async () => ((await servedUpstreams(stack)).includes(dial) ? true : undefined),
      2000,
      'web-1 to rejoin',
    );
  }, 30_000);

  it('adopts running instances when the agent is killed and started again', async () => {
    const before = await status(stack);
    const daemon = JSON.parse(
      await readFile(path.join(stack.stateDir, 'hub', 'api.json'), 'utf8'),
    ) as { pid: number };
    process.kill(daemon.pid, 'SIGKILL');
    // The gateway keeps serving while no agent runs. Caddy then falls back to every placed
    // instance; a lookup that reached the agent's DNS responder as it died waits out Go's
    // DNS timeout (5 s) first, hence the longer wait.
    expect(
      (await gatewayRequest({ host: 'web.localhost', path: '/', ca, timeoutMs: 12_000 })).status,
    ).toBe(200);
    const up = await flotilla(['up', '--detach', '--timeout', '20', '-f', stack.file], stack.env);
    if (up.code !== 0)
      console.log(
        up.stdout,
        up.stderr,
        await readFile(path.join(stack.stateDir, 'daemon.log'), 'utf8'),
      );
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const after = await status(stack);
    expect(
      after.instances.map((instance) => [instance.id, instance.pid, instance.restarts]),
    ).toEqual(before.instances.map((instance) => [instance.id, instance.pid, instance.restarts]));
  }, 60_000);

  it('brings a killed Caddy back with the same routes', async () => {
    const record = JSON.parse(
      await readFile(path.join(stack.stateDir, 'caddy', 'caddy.json'), 'utf8'),
    ) as { pid: number };
    process.kill(record.pid, 'SIGKILL');
    const response = await eventually(
      async () => {
        const answer = await gatewayRequest({
          host: 'web.localhost',
          path: '/x',
          ca,
          timeoutMs: 1000,
        });
        return answer.status === 200 ? answer : undefined;
      },
      10_000,
      'the gateway to serve again',
    );
    expect(JSON.parse(response.body)).toMatchObject({ path: '/x' });
  }, 30_000);

  it('restarts a killed nats-server; services keep running and reports resume', async () => {
    const before = await status(stack);
    const natsPid = Number(
      (await readFile(path.join(stack.stateDir, 'bus', 'nats.pid'), 'utf8')).trim(),
    );
    process.kill(natsPid, 'SIGKILL');
    const killedAt = Date.now();
    const after = await eventually(
      async () => {
        const report = await status(stack);
        const fresh = Object.values(report.nodes).every(
          (node) => (node.reported_at ?? 0) > killedAt,
        );
        return fresh && report.ready ? report : undefined;
      },
      20_000,
      'fresh reports over the restarted bus',
    );
    expect(after.instances.map((instance) => instance.pid)).toEqual(
      before.instances.map((instance) => instance.pid),
    );
    const restarted = await flotilla(['restart', 'web', '-f', stack.file], stack.env);
    expect(restarted.stdout).toContain('restarted 2 instances of web');
  }, 60_000);

  it('rejects a bad change and leaves everything running as it was', async () => {
    const before = await status(stack);
    const text = await readFile(stack.file, 'utf8');
    await writeFile(
      stack.file,
      `${text}  other:\n    run: { command: [node, echo-server.js] }\n    ports: { http: 47101 }\n`,
    );
    const apply = await flotilla(['apply', '-f', stack.file], stack.env);
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain('port 47101 on node `local` is claimed by both');
    await writeFile(stack.file, text);
    const after = await status(stack);
    expect(after.instances.map((instance) => instance.pid)).toEqual(
      before.instances.map((instance) => instance.pid),
    );
  }, 30_000);

  it('leaves no process behind after down', async () => {
    const processes = await stackProcesses(stack, await status(stack));
    expect(processes.every(alive)).toBe(true);
    const down = await flotilla(['down', '-f', stack.file], stack.env);
    expect(down.code, down.stderr).toBe(0);
    expect(processes.filter(alive)).toEqual([]);
  }, 60_000);
});

describe('secrets', () => {
  it('reach only the services that declare them, restart only their users when changed, and are never printed or stored in clear', async () => {
    const stack = await newStack('test/daemon/fixtures/secrets.yml', [
      'test/daemon/fixtures/echo-server.js',
    ]);
    const markers = ['marker-token-5d1e', 'marker-db-8c2f', 'marker-token-v2-a7b0'];
    const outputs: string[] = [];
    const run = async (args: string[], input?: string) => {
      const result = await flotilla(args, stack.env, input);
      outputs.push(result.stdout, result.stderr);
      return result;
    };
    await run(['secrets', 'set', 'API_TOKEN', '-f', stack.file], markers[0]);
    await run(['secrets', 'set', 'DB_PASSWORD', '-f', stack.file], markers[1]);
    const up = await run(['up', '--detach', '-f', stack.file]);
    expect(up.code, up.stdout + up.stderr).toBe(0);

    const before = await status(stack);
    const environ = async (pid: number) =>
      (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
    const pidOf = (report: StatusReport, id: string) =>
      report.instances.find((instance) => instance.id === id)!.pid!;
    expect(await environ(pidOf(before, 'web-1'))).toContain(`API_TOKEN=${markers[0]}`);
    const other = await environ(pidOf(before, 'other-1'));
    expect(other).toContain(`DB_PASSWORD=${markers[1]}`);
    expect(other.join('\n')).not.toContain(markers[0]);
    const fileEntry = other.find((entry) => entry.startsWith('DB_PASSWORD_FILE='))!;
    const secretFile = fileEntry.slice('DB_PASSWORD_FILE='.length);
    expect(await readFile(secretFile, 'utf8')).toBe(markers[1]);
    expect((await stat(secretFile)).mode & 0o777).toBe(0o400);
    const daemon = JSON.parse(
      await readFile(path.join(stack.stateDir, 'hub', 'api.json'), 'utf8'),
    ) as { pid: number };
    expect((await environ(daemon.pid)).join('\n')).not.toContain('marker-');

    await run(['secrets', 'set', 'API_TOKEN', '-f', stack.file], markers[2]);
    const after = await eventually(
      async () => {
        const report = await status(stack);
        const replaced = ['web-1', 'web-2'].every((id) => pidOf(report, id) !== pidOf(before, id));
        return replaced && report.ready ? report : undefined;
      },
      20_000,
      'web to restart with the new token',
    );
    expect(await environ(pidOf(after, 'web-2'))).toContain(`API_TOKEN=${markers[2]}`);
    expect(pidOf(after, 'other-1')).toBe(pidOf(before, 'other-1'));

    await run(['status', '-f', stack.file]);
    await run(['status', '--json', '-f', stack.file]);
    await run(['plan', '--json', '-f', stack.file]);
    await run(['plan', '--show', 'desired', '-f', stack.file]);
    await run(['logs', 'web', '-f', stack.file]);
    await run(['secrets', 'list', '-f', stack.file]);
    // A failing health check whose command sees the secret: its failure is reported, the value is not.
    const healthy = await readFile(stack.file, 'utf8');
    await writeFile(
      stack.file,
      healthy.replace(
        '    secret_files: [DB_PASSWORD]',
        "    secret_files: [DB_PASSWORD]\n    health: { exec: { command: [sh, -c, 'echo checking; exit 3'] }, interval: 200ms }",
      ),
    );
    const failing = await run(['apply', '--timeout', '3', '-f', stack.file]);
    expect(failing.code).toBe(1);
    expect(
      (await status(stack)).instances.find((instance) => instance.id === 'other-1')!.health_detail,
    ).toContain('exit 3');
    outputs.push(JSON.stringify(await status(stack)));
    await writeFile(stack.file, healthy);
    await run(['apply', '-f', stack.file]);
    await run(['down', '-f', stack.file]);
    await expect(stat(secretFile)).rejects.toThrow();
    const printed = outputs.join('\n');
    for (const marker of markers) expect(printed).not.toContain(marker);
    // Every file the stack wrote: the bus's JetStream store, desired.json, logs, records.
    const stored = await grepTree(stack.stateDir, markers);
    expect(stored).toEqual([]);
  }, 120_000);
});

/** Files under `dir` that contain any of `needles`. */
async function grepTree(dir: string, needles: string[]): Promise<string[]> {
  const hits: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const content = await readFile(file, 'latin1');
    if (needles.some((needle) => content.includes(needle))) hits.push(file);
  }
  return hits;
}
