// Nothing of the control plane answers an unauthenticated caller. A real single-node stack
// (`flotilla up`: nats-server, the hub's API, its agent and Caddy) is brought up; every TCP
// socket its control-plane processes listen on is found with `ss` and tried without
// credentials, as any local user (or anyone who can reach the port) would. Only the
// gateway's own HTTP and HTTPS ports may answer, and they are public by design.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flotilla } from '../helpers/flotilla-cli.ts';
import { freePort } from '../helpers/ports.ts';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

interface Listener {
  address: string;
  port: number;
  pid: number;
}

/** Every TCP listener on this machine, with the PIDs that hold it (`ss -Htlnp`). */
async function tcpListeners(): Promise<Listener[]> {
  const { stdout } = await run('ss', ['-Htlnp']);
  const listeners: Listener[] = [];
  for (const line of stdout.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    const match = local && /^(.*):(\d+)$/.exec(local);
    if (!match) continue;
    for (const [, pid] of line.matchAll(/pid=(\d+)/g))
      listeners.push({ address: match[1]!, port: Number(match[2]), pid: Number(pid) });
  }
  return listeners;
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .request(url, { method, headers, agent: false, timeout: 5_000 }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
      .on('error', reject)
      .end(method === 'POST' ? '{"by":"attacker@nowhere"}' : undefined);
  });
}

describe.skipIf(!isRoot)('the control plane of a running stack', { timeout: 120_000 }, () => {
  let dir: string;
  let file: string;
  let env: NodeJS.ProcessEnv;
  let gatewayPorts: number[];
  let pids: { daemon: number; nats: number; caddy: number };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-listeners-'));
    await chmod(dir, 0o755);
    gatewayPorts = [await freePort(), await freePort()];
    file = path.join(dir, 'flotilla.yml');
    await writeFile(
      file,
      `name: listeners
nodes:
  local: { address: 127.0.0.1, gateway: true }
gateway: { http_port: ${gatewayPorts[0]}, https_port: ${gatewayPorts[1]} }
services:
  web:
    run: { command: [node, -e, "require('http').createServer((q, r) => r.end('hi')).listen(process.env.PORT)"] }
    env: { PORT: '\${port}' }
    ports: { http: ${await freePort()} }
    health: { http: { path: / } }
    routes: [{ host: web.localhost }]
`,
    );
    env = { FLOTILLA_STATE_DIR: path.join(dir, 'state') };
    const up = await flotilla(['up', '--detach', '-f', file], env);
    expect(up.code, up.stderr + up.stdout).toBe(0);
    const state = path.join(dir, 'state');
    const record = async (name: string) =>
      (JSON.parse(await readFile(path.join(state, name), 'utf8')) as { pid: number }).pid;
    pids = {
      daemon: await record('hub/api.json'),
      nats: Number((await readFile(path.join(state, 'bus', 'nats.pid'), 'utf8')).trim()),
      caddy: await record('caddy/caddy.json'),
    };
  }, 120_000);

  afterAll(async () => {
    if (file) await flotilla(['down', '-f', file], env);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('answers no unauthenticated caller on any TCP port but the gateway’s own', async () => {
    const ours = (await tcpListeners()).filter((listener) =>
      Object.values(pids).includes(listener.pid),
    );
    const unexpected: string[] = [];
    let tried = 0;
    for (const listener of ours) {
      const host = listener.address
        .replace(/^\[|\]$/g, '')
        .replace(/^\*$|^0\.0\.0\.0$/, '127.0.0.1');
      const url = `${host.includes(':') ? `[${host}]` : host}:${listener.port}`;
      if (listener.pid === pids.caddy && gatewayPorts.includes(listener.port)) continue;
      tried += 1;
      if (listener.pid === pids.nats) {
        // Without a user, and as a user with a guessed password.
        for (const credentials of [
          {},
          { user: 'hub', pass: 'guess' },
          { user: 'agent-local', pass: '' },
        ])
          await expect(
            connect({ servers: `nats://${url}`, ...credentials, reconnect: false }),
            `nats at ${url} with ${JSON.stringify(credentials)}`,
          ).rejects.toThrow(/authorization/i);
        continue;
      }
      if (listener.pid === pids.daemon) {
        expect(await get(`http://${url}/api/v1/status`), `hub API at ${url}`).toBe(401);
        expect(
          await get(`http://${url}/api/v1/status`, { authorization: 'Bearer guess' }),
          `hub API at ${url}`,
        ).toBe(401);
        // Nor may it roll the stack back (deploys change what runs, like an apply).
        expect(
          await get(
            `http://${url}/api/v1/rollback`,
            { 'content-type': 'application/json' },
            'POST',
          ),
          `hub API at ${url}`,
        ).toBe(401);
        continue;
      }
      unexpected.push(`${url} (pid ${listener.pid})`);
    }
    expect(unexpected).toEqual([]);
    // The bus and the hub's API at least: a test that found nothing to try proves nothing.
    expect(tried).toBeGreaterThanOrEqual(2);
  });

  it('keeps the API token from every other local user', async () => {
    const endpoint = path.join(dir, 'state', 'hub', 'api.json');
    const asNobody = await run('setpriv', [
      '--reuid=nobody',
      '--regid=nogroup',
      '--clear-groups',
      'cat',
      endpoint,
    ]).catch((error: { stderr: string }) => error);
    expect('stderr' in asNobody ? asNobody.stderr : '').toMatch(/permission denied/i);
  });
});
