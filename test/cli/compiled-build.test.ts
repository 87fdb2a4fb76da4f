// The compiled build (scripts/build.js) run as an install runs it: bin/flotilla.js and a fresh
// build in a temp directory that has no src/, so nothing can fall back to the sources. It
// validates, brings a stack up with the daemon in the background (a second compiled process),
// applies a change (the hub loads it on its loader thread: the build's own load-worker.mjs),
// routes a request through the gateway and takes the stack down. Needs root (the daemon).
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../src/hub/status-report.ts';
import type { CliResult } from '../helpers/flotilla-cli.ts';
import { freePort } from '../helpers/ports.ts';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const ECHO = path.resolve('test/daemon/fixtures/echo-server.js');

describe.skipIf(!isRoot)('the compiled build, installed without its sources', () => {
  let install: string;
  let stackFile: string;
  const env = (): NodeJS.ProcessEnv => ({
    ...process.env,
    // The suite runs everything else from source; this test is about the build.
    FLOTILLA_FROM_SOURCE: '',
    FLOTILLA_STATE_DIR: path.join(install, 'state'),
    NO_COLOR: '1',
  });

  async function compiled(args: string[]): Promise<CliResult> {
    try {
      const { stdout, stderr } = await run(
        process.execPath,
        [path.join(install, 'bin/flotilla.js'), ...args],
        { env: env(), timeout: 120_000 },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failure = error as { code: number; stdout: string; stderr: string };
      return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
    }
  }

  async function writeStack(port: number): Promise<void> {
    await writeFile(
      stackFile,
      `name: compiled
gateway: { http_port: ${await freePort()}, https_port: ${gatewayPort} }
services:
  web:
    run: { command: [node, ${ECHO}] }
    ports: { http: ${port} }
    env: { PORT: '\${port}' }
    health: { http: { path: /health }, interval: 500ms }
    routes: [{ host: compiled.localhost }]
`,
    );
  }

  let gatewayPort: number;

  beforeAll(async () => {
    install = await mkdtemp(path.join(tmpdir(), 'flotilla-compiled-'));
    // Caddy runs as its own user: it must be able to reach the state directory.
    await chmod(install, 0o755);
    await mkdir(path.join(install, 'bin'));
    await cp('bin/flotilla.js', path.join(install, 'bin/flotilla.js'));
    await symlink(path.resolve('node_modules'), path.join(install, 'node_modules'));
    await run(process.execPath, ['scripts/build.js', '--outdir', path.join(install, 'dist')]);
    stackFile = path.join(install, 'flotilla.yml');
    gatewayPort = await freePort();
  }, 60_000);

  afterAll(async () => {
    await compiled(['down', '-f', stackFile]);
    await rm(install, { recursive: true, force: true });
  }, 60_000);

  it('validates a stack file', async () => {
    await writeStack(await freePort());
    const result = await compiled(['validate', '-f', stackFile]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('is valid: stack compiled, 1 service on 1 node');
    expect(result.code).toBe(0);
  });

  it('runs the daemon, applies a change through the loader thread and routes to it', async () => {
    const up = await compiled(['up', '--detach', '-f', stackFile]);
    expect(up.code, up.stderr).toBe(0);
    const moved = await freePort();
    await writeStack(moved);
    const apply = await compiled(['apply', '-f', stackFile]);
    expect(apply.code, apply.stderr).toBe(0);
    let report: StatusReport | undefined;
    for (let attempt = 0; attempt < 100; attempt++) {
      const status = await compiled(['status', '--json', '-f', stackFile]);
      expect(status.code, status.stderr).toBe(0);
      report = JSON.parse(status.stdout) as StatusReport;
      const web = report.instances.find((instance) => instance.service === 'web');
      if (report.ready && web?.healthy && web.ports?.['http'] === moved) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(report?.instances).toMatchObject([{ id: 'web-1', healthy: true }]);
    const answer = await run('curl', [
      '-sk',
      '--max-time',
      '5',
      '--resolve',
      `compiled.localhost:${gatewayPort}:127.0.0.1`,
      `https://compiled.localhost:${gatewayPort}/hello`,
    ]);
    expect(JSON.parse(answer.stdout)).toEqual({ instance: 'web-1', path: '/hello' });
  }, 120_000);
});
