// A build runs the app's own scripts (`npm ci` runs every dependency's install script): it
// must not see the service's secrets, nor the agent's environment, and runs as the service's
// user. The release command, which migrates with the service's credentials, sees exactly the
// service's environment and still none of the agent's.
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeReleases } from '../../src/agent/node-releases.ts';
import { planStack } from '../../src/plan/plan.ts';
import { createBundle } from '../../src/release/bundle.ts';
import { stackSchema } from '../../src/spec/schema.ts';
import { resolveUser } from '../../src/system/users.ts';

const asRoot = process.getuid?.() === 0;
const CANARY = 'agent-env-canary-7f3a';
const SECRET = 'service-secret-value-91c2';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-build-env-'));
  // As a state dir is (state-dir.ts): a service user traverses it to its release.
  await chmod(dir, 0o755);
  process.env['FLOTILLA_TEST_CANARY'] = CANARY;
});

afterAll(async () => {
  delete process.env['FLOTILLA_TEST_CANARY'];
  await rm(dir, { recursive: true, force: true });
});

/** Pushes `app` to a NodeReleases the way the hub does (one chunk) and returns its answer. */
async function prepare(releases: NodeReleases, app: string, build: string[], user?: string) {
  const bundle = await createBundle(app, { tmpDir: dir });
  const data = await readFile(bundle.file);
  await releases.receive({ sha256: bundle.sha256, offset: 0, data: data.toString('base64') });
  const answer = await releases.prepare({
    service: 'web',
    sha256: bundle.sha256,
    bytes: bundle.bytes,
    build,
    ...(user !== undefined && { user }),
    keep: [],
  });
  return { answer, sha256: bundle.sha256 };
}

describe.skipIf(!asRoot)('what a build and a release command see', () => {
  it('builds as the service user, without the agent environment or any secret', async () => {
    const app = path.join(dir, 'app');
    await mkdir(app);
    await writeFile(
      path.join(app, 'build.js'),
      "require('fs').writeFileSync('built.json', JSON.stringify({ uid: process.getuid(), env: process.env }))",
    );
    const stateDir = path.join(dir, 'state');
    const releases = new NodeReleases(stateDir, {
      instances: path.join(stateDir, 'instances'),
      logs: path.join(stateDir, 'logs'),
      secretFiles: path.join(stateDir, 'secret-files'),
    });
    const { answer, sha256 } = await prepare(
      releases,
      app,
      [process.execPath, 'build.js'],
      'nobody',
    );
    expect(answer).toEqual({ ready: true });
    const releaseDir = path.join(stateDir, 'releases', 'web', sha256);
    const built = JSON.parse(await readFile(path.join(releaseDir, 'built.json'), 'utf8')) as {
      uid: number;
      env: Record<string, string>;
    };
    const nobody = resolveUser('nobody');
    expect(built.uid).toBe(nobody.uid);
    expect((await stat(releaseDir)).uid).toBe(nobody.uid);
    expect(Object.keys(built.env).sort()).toEqual(['HOME', 'LANG', 'PATH']);
    expect(JSON.stringify(built.env)).not.toContain(CANARY);
  });

  it("runs the release command with the service's secrets and nothing of the agent's", async () => {
    const stack = stackSchema.parse({
      name: 'envtest',
      services: {
        web: {
          run: { command: ['node', 'server.js'] },
          env: { DATABASE_PASSWORD: '${secret:DB_PASSWORD}' },
          deploy: {},
        },
      },
    });
    const stateDir = path.join(dir, 'state2');
    const instance = planStack(stack, { stackDir: dir, stateDir }).desired['local']!.instances[0]!;
    const releases = new NodeReleases(stateDir, {
      instances: path.join(stateDir, 'instances'),
      logs: path.join(stateDir, 'logs'),
      secretFiles: path.join(stateDir, 'secret-files'),
    });
    const answer = await releases.runOnce(
      {
        instance: { ...instance, runtime: { ...instance.runtime, cwd: dir } },
        command: [process.execPath, '-e', 'console.log(JSON.stringify(process.env))'],
      },
      (name) => (name === 'DB_PASSWORD' ? SECRET : undefined),
    );
    expect(answer.ok).toBe(true);
    const env = JSON.parse(answer.output.join('')) as Record<string, string>;
    expect(env['DATABASE_PASSWORD']).toBe(SECRET);
    expect(JSON.stringify(env)).not.toContain(CANARY);
  });
});
