// Monitoring on a running stack, end to end: the hub derives monitors from what it runs,
// an instance that keeps failing and its route each alert once on a real (signed) webhook
// and once more when they recover, a heartbeat pinged through the gateway goes down when
// the pings stop and up when they return, `alerts test` sends a real message, and the
// Prometheus endpoint answers its token only.
import { createHmac } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpReceiver, type HttpReceiver } from '../helpers/alert-receivers.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';
import { freePort } from '../helpers/ports.ts';

const run = promisify(execFile);

/** Answers 200 on its port, unless the file `broken` exists when it starts: then it exits 1. */
const SERVER = `const fs = require('node:fs');
if (fs.existsSync('broken')) { console.error('refusing to start: ./broken exists'); process.exit(1); }
require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`;

const HOOK_SECRET = 'hook-secret-4b1e9d';
const METRICS_TOKEN = 'metrics-token-77c0a2f1';

interface Alert {
  kind: string;
  monitor: string | null;
  what: string;
  error: string | null;
  duration_ms: number | null;
}

interface Monitor {
  name: string;
  kind: string;
  status: string;
  detail?: string;
  push?: { healthchecks: string; kuma: string };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 40_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('monitoring a running stack', { timeout: 120_000 }, () => {
  let dir: string;
  let file: string;
  let env: NodeJS.ProcessEnv;
  let receiver: HttpReceiver;
  let metricsPort: number;

  const alerts = (): Alert[] =>
    receiver.requests.map((request) => JSON.parse(request.body.toString('utf8')) as Alert);
  /** `monitor`'s `kind` alerts, from delivery `from` on (earlier ones are another test's). */
  const alertsFor = (monitor: string, kind: string, from = 0) =>
    alerts()
      .slice(from)
      .filter((alert) => alert.monitor === monitor && alert.kind === kind);
  const monitors = async (...args: string[]): Promise<Monitor[]> => {
    const listed = await flotilla(['monitors', '--json', ...args, '-f', file], env);
    expect(listed.code, listed.stderr).toBe(0);
    return JSON.parse(listed.stdout) as Monitor[];
  };
  const statusOf = async (name: string) =>
    (await monitors()).find((monitor) => monitor.name === name)?.status;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-monitoring-'));
    // Caddy runs as its own user and reads its files under the state directory.
    await chmod(dir, 0o755);
    env = { FLOTILLA_STATE_DIR: path.join(dir, 'state') };
    file = path.join(dir, 'flotilla.yml');
    receiver = await startHttpReceiver();
    metricsPort = await freePort();
    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    await writeFile(path.join(dir, 'server.js'), SERVER);
    await writeFile(
      file,
      `name: watched
gateway: { http_port: ${httpPort}, https_port: ${httpsPort} }
nodes:
  local: { address: 127.0.0.1, gateway: true }
services:
  api:
    run: { command: [node, server.js], cwd: . }
    ports: { http: 48231 }
    env: { PORT: "\${port}" }
    health: { http: { path: / }, interval: 500ms }
    routes: [{ host: api.localhost }]
monitors:
  nightly:
    heartbeat: { period: 3s, grace: 1s }
monitoring:
  interval: 1s
  retries: 2
  push: { host: status.localhost }
  metrics: { port: ${metricsPort}, token: "\${secret:METRICS_TOKEN}" }
alerts:
  - name: ops
    webhook: { url: "${receiver.origin}/hook", secret: "\${secret:HOOK_SECRET}" }
`,
    );
    for (const [name, value] of [
      ['HOOK_SECRET', HOOK_SECRET],
      ['METRICS_TOKEN', METRICS_TOKEN],
    ]) {
      const set = await flotilla(['secrets', 'set', name!, '-f', file], env, value);
      expect(set.code, set.stderr).toBe(0);
    }
    const up = await flotilla(['up', '--detach', '-f', file], env);
    expect(up.code, up.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await flotilla(['down', '-f', file], env);
    await receiver?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('derives monitors from the stack and finds them up', async () => {
    const names = (await monitors()).map((monitor) => monitor.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'route:api.localhost/',
        'instance:api-1',
        'node:local',
        'disk:local',
        'nightly',
      ]),
    );
    await waitFor('the route and the instance to be up', async () =>
      (await statusOf('route:api.localhost/')) === 'up' &&
      (await statusOf('instance:api-1')) === 'up'
        ? true
        : undefined,
    );
    const table = await flotilla(['monitors', '-f', file], env);
    expect(table.stdout).toMatch(/MONITOR\s+STATE\s+SINCE\s+24H\s+7D\s+30D\s+P95\s+LAST CHECKS/);
    expect(table.stdout).toMatch(/route:api\.localhost\/\s+UP\s/);
  });

  it('alerts once when an instance keeps failing, and once when it recovers', async () => {
    // Under load the instance may have been slow to turn healthy at first: that incident
    // (its down and up) is not this one.
    const from = receiver.requests.length;
    const incident = (monitor: string, kind: string) => alertsFor(monitor, kind, from);
    await writeFile(path.join(dir, 'broken'), '');
    // Killed, and its next processes refuse to start, again and again.
    const status = await flotilla(['status', '--json', '-f', file], env);
    const { instances } = JSON.parse(status.stdout) as { instances: { pid?: number }[] };
    process.kill(instances[0]!.pid!, 'SIGKILL');
    const down = await waitFor('the instance and route down alerts', async () => {
      const instance = incident('instance:api-1', 'down');
      const route = incident('route:api.localhost/', 'down');
      return instance.length > 0 && route.length > 0 ? { instance, route } : undefined;
    });
    expect(down.instance[0]!.what).toContain('instance api-1 of api on node local is down');
    expect(down.route[0]!.error).toMatch(/HTTP 50\d/);
    await unlink(path.join(dir, 'broken'));
    await waitFor('the recovery alerts', async () =>
      incident('instance:api-1', 'up').length > 0 &&
      incident('route:api.localhost/', 'up').length > 0
        ? true
        : undefined,
    );
    // One message per incident each way, however many checks failed meanwhile.
    expect(incident('instance:api-1', 'down')).toHaveLength(1);
    expect(incident('instance:api-1', 'up')).toHaveLength(1);
    expect(incident('route:api.localhost/', 'down')).toHaveLength(1);
    expect(incident('route:api.localhost/', 'up')).toHaveLength(1);
    expect(incident('instance:api-1', 'up')[0]!.duration_ms).toBeGreaterThan(0);
    // Every delivery is signed with the channel's secret, over the exact body.
    for (const request of receiver.requests)
      expect(request.headers['x-flotilla-signature']).toBe(
        `sha256=${createHmac('sha256', HOOK_SECRET).update(request.body).digest('hex')}`,
      );
  });

  it('takes heartbeat pings through the gateway, and alerts when they stop', async () => {
    const [nightly] = await monitors('nightly', '--urls');
    const url = nightly!.push!.healthchecks;
    expect(url).toMatch(/^https:\/\/status\.localhost:\d+\/ping\/[A-Za-z0-9_-]{43}$/);
    // The line Healthchecks.io tells users to put in their crontab (our CA is Caddy's own).
    await run('curl', ['-fsS', '-m', '10', '--retry', '5', '-k', '-o', '/dev/null', url]);
    await waitFor('the heartbeat to be up', async () =>
      (await statusOf('nightly')) === 'up' ? true : undefined,
    );
    // No ping any more: down once its period and grace have passed, then up at the next.
    const seen = receiver.requests.length;
    const since = () => alerts().slice(seen);
    const late = await waitFor('the missed heartbeat alert', async () =>
      since().find((alert) => alert.monitor === 'nightly' && alert.kind === 'down'),
    );
    expect(late.error).toMatch(/no ping since/);
    await run('curl', ['-fsS', '-m', '10', '-k', '-o', '/dev/null', url]);
    await waitFor('the heartbeat recovery', async () =>
      since().find((alert) => alert.monitor === 'nightly' && alert.kind === 'up'),
    );
    // A wrong token is a 404, in the client's own dialect.
    await expect(
      run('curl', ['-fsS', '-m', '10', '-k', '-o', '/dev/null', `${url.slice(0, -3)}abc`]),
    ).rejects.toThrow(/404/);
  });

  it('sends a real test message, and names the channels when asked for one that is not there', async () => {
    const before = receiver.requests.length;
    const sent = await flotilla(['alerts', 'test', '-f', file], env);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toMatch(/sent\s+ops/);
    expect(
      alerts()
        .slice(before)
        .map((alert) => alert.kind),
    ).toEqual(['test']);
    const unknown = await flotilla(['alerts', 'test', 'pager', '-f', file], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no alert channel named pager');
    expect(unknown.stderr).toContain('hint: channels: ops');
  });

  it('serves Prometheus metrics with its token, and nothing without it', async () => {
    const url = `http://127.0.0.1:${metricsPort}/metrics`;
    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    expect(await refused.text()).not.toContain('flotilla_');
    const scraped = await fetch(url, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(scraped.status).toBe(200);
    const text = await scraped.text();
    expect(text).toMatch(/flotilla_monitor_up\{[^}]*monitor="instance:api-1"[^}]*\} 1/);
    expect(text).toMatch(/flotilla_node_up\{[^}]*node="local"[^}]*\} 1/);
    expect(text).toMatch(/flotilla_instance_healthy\{[^}]*instance_id="api-1"[^}]*\} 1/);
  });
});
