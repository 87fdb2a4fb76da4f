// `flotilla deploy` on this machine with real processes, Caddy, NATS and nftables: a release
// goes live through the gateway and on the planned port, the same tree is nothing to deploy,
// a failing build, release command or health gate switches nothing, rollback, the lock,
// a CLI killed mid-deploy, and push-to-deploy from a real git server through the gateway.
import { createHmac, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../src/hub/status-report.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';
import { startGitServer, type GitServer } from '../helpers/git-server.ts';
import { gatewayRequest } from '../helpers/https-get.ts';
import { freePort } from '../helpers/ports.ts';
import { startHttpReceiver, type HttpReceiver } from '../helpers/alert-receivers.ts';

const asRoot = process.getuid?.() === 0;
const SERVER_JS = `
const http = require('node:http');
const fs = require('node:fs');
const version = fs.readFileSync(__dirname + '/VERSION', 'utf8').trim();
if (version === 'crash') process.exit(3);
const server = http.createServer((req, res) => {
  if (req.url === '/health') return res.end('ok');
  res.end(version + ' ' + process.env.FLOTILLA_INSTANCE);
});
// A "hold" release listens only once the test creates GATE_FILE: its deploy (and the lock)
// stays in the health gate until then.
const listen = () => server.listen(Number(process.env.PORT), '127.0.0.1');
const wait = () => (fs.existsSync(process.env.GATE_FILE) ? listen() : setTimeout(wait, 50));
if (version.startsWith('hold')) wait();
else listen();
`;

interface TestStack {
  dir: string;
  file: string;
  app: string;
  env: NodeJS.ProcessEnv;
  httpsPort: number;
  port: number;
  ca: () => Promise<string>;
}

const cleanups: (() => Promise<void>)[] = [];

/** Whether `port` can be bound on loopback right now. */
function canBind(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const server = http.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A loopback port free with both its release slots (+10000, +20000): below the ephemeral range. */
async function servicePort(): Promise<number> {
  for (;;) {
    const port = 4000 + Math.floor(Math.random() * 6000);
    const free = await Promise.all([port, port + 10_000, port + 20_000].map(canBind));
    if (free.every(Boolean)) return port;
  }
}

async function newStack(name: string, deploy: string, extra = ''): Promise<TestStack> {
  const dir = await mkdtemp(path.join(tmpdir(), 'flotilla-deploy-'));
  await chmod(dir, 0o755);
  const app = path.join(dir, 'app');
  await mkdir(app);
  await writeFile(path.join(app, 'server.js'), SERVER_JS);
  await writeFile(path.join(app, 'VERSION'), 'v1\n');
  const [httpPort, httpsPort, port] = [await freePort(), await freePort(), await servicePort()];
  const file = path.join(dir, 'flotilla.yml');
  await writeFile(
    file,
    [
      `name: ${name}`,
      `gateway: { http_port: ${httpPort}, https_port: ${httpsPort}${extra} }`,
      'services:',
      '  web:',
      '    replicas: 2',
      '    run: { command: [node, server.js], cwd: ./app }',
      `    ports: { http: ${port} }`,
      "    env: { PORT: '${port}' }",
      '    health: { http: { path: /health }, interval: 1s }',
      '    routes: [{ host: web.localhost }]',
      `    deploy: ${deploy}`,
      '',
    ].join('\n'),
  );
  const stateDir = path.join(dir, 'state');
  const stack: TestStack = {
    dir,
    file,
    app,
    env: { FLOTILLA_STATE_DIR: stateDir },
    httpsPort,
    port,
    ca: () =>
      readFile(
        path.join(stateDir, 'caddy', 'storage', 'pki', 'authorities', 'local', 'root.crt'),
        'utf8',
      ),
  };
  cleanups.push(async () => {
    await flotilla(['down', '-f', file], stack.env);
    await rm(dir, { recursive: true, force: true });
  });
  return stack;
}

function cli(stack: TestStack, ...args: string[]) {
  return flotilla([...args, '-f', stack.file], stack.env);
}

async function up(stack: TestStack): Promise<void> {
  const result = await cli(stack, 'up', '--detach');
  expect(result.code, result.stderr + result.stdout).toBe(0);
}

/** What the gateway serves for web.localhost: "<version> <instance>". */
async function served(stack: TestStack): Promise<string> {
  const response = await gatewayRequest({
    host: 'web.localhost',
    path: '/',
    ca: await stack.ca(),
    port: stack.httpsPort,
    timeoutMs: 5000,
  });
  expect(response.status).toBe(200);
  return response.body;
}

/** What the planned port answers on loopback (the node redirects it to the serving release). */
function onPlannedPort(stack: TestStack): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: stack.port, path: '/', agent: false }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

async function status(stack: TestStack): Promise<StatusReport> {
  const result = await cli(stack, 'status', '--json');
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as StatusReport;
}

/** `flotilla deploy web` in the background: `started` once it starts the new instances. */
function startDeploy(stack: TestStack) {
  const child = spawn(
    process.execPath,
    [path.resolve('bin/flotilla.js'), 'deploy', 'web', '-f', stack.file],
    { env: { ...process.env, ...stack.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const started = new Promise<void>((resolve) =>
    child.stdout.on('data', (chunk: Buffer) => {
      if (/starting web-/.test(chunk.toString())) resolve();
    }),
  );
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, started, exit };
}

async function setVersion(stack: TestStack, version: string): Promise<void> {
  await writeFile(path.join(stack.app, 'VERSION'), `${version}\n`);
}

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
}, 180_000);

describe.skipIf(!asRoot)('flotilla deploy on one machine', () => {
  let stack: TestStack;
  /** The stack's alert channel: a failed deploy is someone's to look at. */
  let alerts: HttpReceiver;

  beforeAll(async () => {
    alerts = await startHttpReceiver();
    cleanups.push(() => alerts.close());
    stack = await newStack(
      'deploytest',
      "{ drain: 500ms, health_timeout: 15s, release_command: [node, -e, \"require('fs').appendFileSync(process.env.MIGRATIONS, process.env.FLOTILLA_INSTANCE + '\\\\n')\"] }",
    );
    // The release command writes where the test can read: a path the service's env names.
    const text = await readFile(stack.file, 'utf8');
    await writeFile(
      stack.file,
      text.replace(
        "env: { PORT: '${port}' }",
        `env: { PORT: '\${port}', MIGRATIONS: '${path.join(stack.dir, 'migrations.log')}', GATE_FILE: '${path.join(stack.dir, 'go')}' }`,
      ) + `alerts:\n  - webhook: { url: "${alerts.origin}/hook" }\n`,
    );
    await up(stack);
  }, 120_000);

  it('puts a new release live through the gateway and on the planned port, in new instances', async () => {
    expect(await served(stack)).toMatch(/^v1 web-[12]$/);
    await setVersion(stack, 'v2');
    const result = await cli(stack, 'deploy', 'web', '-m', 'second version');
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stdout).toMatch(/web: release 1 is live/);
    for (let i = 0; i < 4; i++) expect(await served(stack)).toMatch(/^v2 web-[12]a$/);
    expect(await onPlannedPort(stack)).toMatch(/^v2 web-1a$/);
    const report = await status(stack);
    const web = report.instances.filter((instance) => instance.service === 'web');
    expect(web.map((instance) => [instance.id, instance.release, instance.healthy])).toEqual([
      ['web-1a', 1, true],
      ['web-2a', 1, true],
    ]);
    // The release command ran once per deploy, as an instance of the new release.
    expect(await readFile(path.join(stack.dir, 'migrations.log'), 'utf8')).toBe('web-1a\n');
  }, 120_000);

  it('calls the same tree again nothing to deploy, and changes nothing', async () => {
    const result = await cli(stack, 'deploy', 'web');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/nothing to deploy.*release 1, which is live/);
    expect(await readFile(path.join(stack.dir, 'migrations.log'), 'utf8')).toBe('web-1a\n');
  }, 60_000);

  it('stops at the health gate when the new release crashes, and the old one keeps serving', async () => {
    await setVersion(stack, 'crash');
    const result = await cli(stack, 'deploy', 'web');
    expect(result.code).toBe(1);
    // Whichever replica's new release fails first stops the gate.
    expect(result.stderr).toMatch(/health gate failed \(web-[12]b on local\)/);
    expect(result.stderr).toMatch(/hint: the old instances kept serving/);
    // Delivered from the audit log, moments after the CLI heard of the failure.
    const sent = () =>
      alerts.requests.map(
        (request) => JSON.parse(request.body.toString('utf8')) as { kind: string; what: string },
      );
    for (
      let waited = 0;
      !sent().some((alert) => alert.kind === 'event') && waited < 10_000;
      waited += 100
    )
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(
      sent().filter((alert) => alert.kind === 'event'),
      JSON.stringify(sent()),
    ).toEqual([
      expect.objectContaining({
        what: expect.stringMatching(/deploy of web .* failed at health gate/),
      }),
    ]);
    expect(await served(stack)).toMatch(/^v2 web-[12]a$/);
    expect(await onPlannedPort(stack)).toMatch(/^v2/);
    const ids = (await status(stack)).instances.map((instance) => instance.id);
    expect(ids).toEqual(['web-1a', 'web-2a']);
  }, 120_000);

  it('deploys the next release on the other slot, then rolls back to the previous one', async () => {
    await setVersion(stack, 'v3');
    const deployed = await cli(stack, 'deploy', 'web');
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(await served(stack)).toMatch(/^v3 web-[12]b$/);
    expect(await onPlannedPort(stack)).toMatch(/^v3 web-1b$/);
    const back = await cli(stack, 'rollback', 'web');
    expect(back.code, back.stderr + back.stdout).toBe(0);
    expect(back.stdout).toMatch(/web: release 1 is live \(was release 3\)/);
    expect(await served(stack)).toMatch(/^v2 web-[12]a$/);
    const releases = await cli(stack, 'releases', 'web', '--json');
    const listed = JSON.parse(releases.stdout) as {
      current: number;
      releases: { number: number; running: string[] }[];
      lock: unknown;
    };
    expect(listed.current).toBe(1);
    expect(listed.lock).toBeNull();
    expect(listed.releases.find((release) => release.number === 1)!.running.sort()).toEqual([
      'web-1a@local',
      'web-2a@local',
    ]);
  }, 120_000);

  it('keeps the audit log: who deployed what, from which release to which, and the result', async () => {
    const result = await cli(stack, 'history', 'web', '--json');
    expect(result.code, result.stderr).toBe(0);
    const events = JSON.parse(result.stdout) as { type: string; data?: Record<string, unknown> }[];
    const outcomes = events
      .filter((event) => /\.(succeeded|failed)$/.test(event.type))
      .map((event) => [event.type, event.data?.['from'], event.data?.['to']]);
    expect(outcomes).toEqual([
      ['deploy.succeeded', 0, 1],
      ['deploy.failed', 1, 2],
      ['deploy.succeeded', 1, 3],
      ['rollback.succeeded', 3, 1],
    ]);
  }, 60_000);

  it('lets one deploy at a time through the lock, even with --force while it runs', async () => {
    await setVersion(stack, 'hold-v4');
    const first = startDeploy(stack);
    await first.started;
    // The first deploy now waits in its health gate, holding the lock, until the gate file.
    const second = await cli(stack, 'deploy', 'web', '--release', '3');
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(
      /deploys are locked by \S+@\S+ since .*: deploy web 4, which is running now/,
    );
    const forced = await cli(stack, 'deploy', 'web', '--release', '3', '--force', 'in a hurry');
    expect(forced.code).toBe(1);
    expect(forced.stderr).toMatch(/--force takes only a lock whose deploy stopped/);
    await writeFile(path.join(stack.dir, 'go'), '');
    expect(await first.exit).toBe(0);
    expect(await served(stack)).toMatch(/^hold-v4 /);
    await rm(path.join(stack.dir, 'go'));
  }, 120_000);

  it('finishes a deploy whose CLI was killed mid-way', async () => {
    await setVersion(stack, 'v5');
    const deploy = startDeploy(stack);
    await deploy.started;
    deploy.child.kill('SIGKILL');
    // The hub goes on: the next deploy waits for the lock, then finds v5 live already.
    let answer = '';
    for (let attempt = 0; attempt < 100 && !answer.startsWith('v5'); attempt++) {
      answer = await served(stack);
      if (!answer.startsWith('v5')) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(answer).toMatch(/^v5 /);
    // …and finishes it: the lock goes, and the release is the live one.
    let lock: unknown = 'held';
    for (let attempt = 0; attempt < 100 && lock !== null; attempt++) {
      ({ lock } = JSON.parse((await cli(stack, 'releases', 'web', '--json')).stdout) as {
        lock: unknown;
      });
      if (lock !== null) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const again = await cli(stack, 'deploy', 'web');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/nothing to deploy/);
  }, 120_000);

  it('settles a deploy whose hub was killed mid-way, and the next deploy finishes it', async () => {
    const before = await served(stack);
    await setVersion(stack, 'hold-v6');
    const deploy = startDeploy(stack);
    await deploy.started;
    const endpoint = JSON.parse(
      await readFile(path.join(stack.dir, 'state', 'hub', 'api.json'), 'utf8'),
    ) as { pid: number };
    process.kill(endpoint.pid, 'SIGKILL');
    expect(await deploy.exit).toBe(1);
    await up(stack);
    // The switch had not happened: every instance kept the release it served, the lock went.
    expect((await served(stack)).split(' ')[0]).toBe(before.split(' ')[0]);
    const listed = JSON.parse((await cli(stack, 'releases', 'web', '--json')).stdout) as {
      lock: unknown;
    };
    expect(listed.lock).toBeNull();
    const history = JSON.parse((await cli(stack, 'history', 'web', '--json')).stdout) as {
      type: string;
    }[];
    expect(history.map((event) => event.type)).toContain('deploy.interrupted');
    // The restarted agent stops the new release's instances the switch never reached: their
    // slot ports come free (a stop takes a moment on a loaded machine).
    const offset = before.split(' ')[1]!.endsWith('a') ? 20_000 : 10_000;
    const slotPorts = [stack.port + offset, stack.port + offset + 1];
    for (let waited = 0; waited < 30_000; waited += 250) {
      if ((await Promise.all(slotPorts.map(canBind))).every(Boolean)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await writeFile(path.join(stack.dir, 'go'), '');
    const again = await cli(stack, 'deploy', 'web');
    expect(again.code, again.stderr).toBe(0);
    expect(await served(stack)).toMatch(/^hold-v6 /);
  }, 120_000);
});

describe.skipIf(!asRoot)('deploy refusals', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await newStack('deployrefuse', '{ build: [node, -e, "process.exit(7)"] }');
    await up(stack);
  }, 120_000);

  it('refuses an unknown service, two sources, a missing directory, changing nothing', async () => {
    const unknown = await cli(stack, 'deploy', 'nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no service named nope/);
    const both = await cli(stack, 'deploy', 'web', '--from', stack.app, '--git', 'x#y');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--from and --git both name what to deploy/);
    const missing = await cli(stack, 'deploy', 'web', '--from', path.join(stack.dir, 'gone'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).not.toMatch(/at .*\.ts:\d+/);
    expect(await served(stack)).toMatch(/^v1 web-[12]$/);
  }, 60_000);

  it('stops at a failing build with its output, and nothing switches', async () => {
    await setVersion(stack, 'v2');
    const result = await cli(stack, 'deploy', 'web');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /build failed \(on local\): the build \(node -e process.exit\(7\)\) exited with 7/,
    );
    expect(await served(stack)).toMatch(/^v1 web-[12]$/);
    const ids = (await status(stack)).instances.map((instance) => instance.id);
    expect(ids).toEqual(['web-1', 'web-2']);
  }, 60_000);
});

/** A GitHub push delivery for `commit` on `branch`, signed with `secret` as GitHub signs it. */
function githubPush(secret: string, branch: string, commit: string, delivery = randomUUID()) {
  const body = JSON.stringify({
    ref: `refs/heads/${branch}`,
    before: '0'.repeat(40),
    after: commit,
    repository: { full_name: 'acme/web' },
  });
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': delivery,
      'x-hub-signature-256': signature,
    },
  };
}

describe.skipIf(!asRoot)('push-to-deploy through the gateway', () => {
  let stack: TestStack;
  let git: GitServer;
  const secret = 'hook-secret-for-tests';

  beforeAll(async () => {
    git = await startGitServer();
    cleanups.push(() => git.stop());
    const repo = await git.repo('web.git');
    await repo.commit({ 'server.js': SERVER_JS, VERSION: 'from-git-1\n' });
    const webhookPort = await freePort();
    stack = await newStack(
      'deployhook',
      `{ git: { url: '${repo.url}', branch: main }, webhook: { forge: github, secret: '\${secret:WEB_HOOK}' } }`,
      `, webhooks: { host: hooks.localhost, port: ${webhookPort} }`,
    );
    const set = await flotilla(['secrets', 'set', 'WEB_HOOK', '-f', stack.file], stack.env, secret);
    expect(set.code, set.stderr).toBe(0);
    await up(stack);
    const pushed = await repo.commit({ VERSION: 'from-git-2\n' });
    Object.assign(stack, { pushed });
  }, 120_000);

  const hook = async (delivery: ReturnType<typeof githubPush>) =>
    gatewayRequest({
      host: 'hooks.localhost',
      path: '/hooks/web',
      method: 'POST',
      headers: delivery.headers,
      body: delivery.body,
      ca: await stack.ca(),
      port: stack.httpsPort,
    });

  it('deploys the pushed commit, answers 202 at once, and refuses the same delivery again', async () => {
    const commit = (stack as TestStack & { pushed: string }).pushed;
    const delivery = githubPush(secret, 'main', commit);
    const accepted = await hook(delivery);
    expect(accepted.status, accepted.body).toBe(202);
    let answer = '';
    for (let attempt = 0; attempt < 150 && !answer.startsWith('from-git-2'); attempt++) {
      answer = await served(stack);
      if (!answer.startsWith('from-git-2'))
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(answer).toMatch(/^from-git-2 web-[12]a$/);
    const replay = await hook(delivery);
    expect(replay.status).toBe(401);
    const releases = JSON.parse((await cli(stack, 'releases', 'web', '--json')).stdout) as {
      releases: { by: string; source: { kind: string; commit?: string } }[];
    };
    expect(releases.releases).toHaveLength(1);
    expect(releases.releases[0]!.by).toBe('webhook:github');
    expect(releases.releases[0]!.source.commit).toBe(commit);
  }, 120_000);

  it('refuses a delivery signed with another secret, and deploys nothing', async () => {
    const forged = githubPush('not-the-secret', 'main', '1'.repeat(40));
    const refused = await hook(forged);
    expect(refused.status).toBe(401);
    const history = JSON.parse((await cli(stack, 'history', 'web', '--json')).stdout) as {
      type: string;
    }[];
    expect(history.filter((event) => event.type === 'deploy.started')).toHaveLength(1);
  }, 60_000);
});
