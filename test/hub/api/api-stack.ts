// A real hub for the API tests: a one-service stack brought up with `flotilla up --detach`
// in a temporary dir (with one secret its service uses and a route through the gateway),
// tokens made with `flotilla tokens create`, and raw HTTP calls to the loopback API.
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { readEndpoint, type ApiEndpoint } from '../../../src/hub/api-endpoint.ts';
import { flotilla, type CliResult } from '../../helpers/flotilla-cli.ts';
import { freePort } from '../../helpers/ports.ts';

export const SECRET_VALUE = 'api-secret-value-5e1f07c2';

/** What the service logs of the secret value it started with. */
export function keyDigest(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 12);
}

export interface ApiStack {
  dir: string;
  stateDir: string;
  endpoint: ApiEndpoint;
  cli(args: string[], input?: string): Promise<CliResult>;
  /** `flotilla tokens create NAME --scope SCOPE [...more]`: the token it printed. */
  token(name: string, scope: string, ...more: string[]): Promise<string>;
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown },
  ): Promise<{ status: number; text: string; headers: Headers }>;
  stop(): Promise<void>;
}

export async function startApiStack(name: string): Promise<ApiStack> {
  const dir = await mkdtemp(path.join(tmpdir(), `flotilla-${name}-`));
  // Caddy runs as its own user and reads its files under the state directory.
  await chmod(dir, 0o755);
  const stateDir = path.join(dir, 'state');
  const file = path.join(dir, 'flotilla.yml');
  const env = { FLOTILLA_STATE_DIR: stateDir };
  const [httpPort, httpsPort, servicePort] = [await freePort(), await freePort(), await freePort()];
  await writeFile(
    path.join(dir, 'server.js'),
    // It says which secret value it has (a digest of it) when it starts.
    `const digest = require('node:crypto').createHash('sha256').update(process.env.KEY).digest('hex');
require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening with key', digest.slice(0, 12)));
`,
  );
  await writeFile(
    file,
    `name: ${name}
gateway: { http_port: ${httpPort}, https_port: ${httpsPort} }
nodes:
  local: { address: 127.0.0.1, gateway: true }
services:
  api:
    run: { command: [node, server.js], cwd: . }
    ports: { http: ${servicePort} }
    env: { PORT: "\${port}", KEY: "\${secret:API_KEY}" }
    health: { http: { path: / }, interval: 500ms }
    routes: [{ host: ${name}.localhost }]
`,
  );
  const cli = (args: string[], input?: string) => flotilla([...args, '-f', file], env, input);
  const set = await cli(['secrets', 'set', 'API_KEY'], SECRET_VALUE);
  expect(set.code, set.stderr).toBe(0);
  const up = await cli(['up', '--detach']);
  expect(up.code, up.stderr).toBe(0);
  const endpoint = (await readEndpoint(stateDir))!;
  return {
    dir,
    stateDir,
    endpoint,
    cli,
    async token(tokenName, scope, ...more) {
      const created = await cli(['tokens', 'create', tokenName, '--scope', scope, ...more]);
      expect(created.code, created.stderr).toBe(0);
      return created.stdout.trim();
    },
    async call(method, route, options = {}) {
      const response = await fetch(`${endpoint.url}${route}`, {
        method,
        headers: {
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
      return { status: response.status, text: await response.text(), headers: response.headers };
    },
    async stop() {
      await cli(['down']);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
