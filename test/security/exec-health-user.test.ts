// Attack: an exec health check is the service's own code (here a script in its directory,
// which its user can rewrite). Run as root, it hands that user root: the script below,
// "compromised" by the service, writes into a root-only directory. Refused: the check runs
// exactly as the service does (its uid and gid, no root groups, its directory, its rendered
// environment with the secret filled in, nothing of the agent's), through the same calls
// the agent makes (ProcessRuntime, healthCheckFor, InstanceRunner).
import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstanceRunner } from '../../src/agent/instance-runner.ts';
import {
  healthCheckFor,
  InstanceSpecError,
  type AgentPaths,
} from '../../src/agent/process-spec.ts';
import { ProcessRuntime } from '../../src/agent/runtime/process-runtime.ts';
import { SegmentEnforcer } from '../../src/agent/segment-enforcer.ts';
import { resolveUser } from '../../src/system/users.ts';
import { desiredInstanceSchema, type DesiredInstance } from '../../src/plan/desired.ts';
import { healthSchema } from '../../src/spec/schema.ts';

const TOKEN = 'health-check-token-5b0e';
const isRoot = process.getuid?.() === 0;

let dir: string;
let work: string;
let guarded: string;
let paths: AgentPaths;

/** An instance as its agent receives it: what plan leaves (secrets as templates) filled in. */
function desiredApp(
  runtime: { command: string[]; user?: string },
  env: Record<string, string>,
  health: Record<string, unknown>,
): DesiredInstance {
  return desiredInstanceSchema.parse({
    id: 'app-1',
    service: 'app',
    index: 1,
    node: 'local',
    runtime: { kind: 'process', cwd: work, env_files: [], ...runtime },
    env,
    ports: {},
    data_dir: path.join(dir, 'data'),
    health: healthSchema.parse(health),
    depends_on: [],
    restart: 'always',
    stop: { signal: 'SIGTERM', timeout: '2s' },
    secrets: ['TOKEN'],
    secret_files: [],
  });
}

/** Runs the instance as the agent would until its check passes, then stops it. */
async function untilHealthy(instance: DesiredInstance): Promise<string> {
  const lookup = (name: string) => (name === 'TOKEN' ? TOKEN : undefined);
  const health = healthCheckFor(instance);
  const prepared = new ProcessRuntime(paths, new SegmentEnforcer()).prepare(instance, lookup);
  const runner = new InstanceRunner({
    id: instance.id,
    service: instance.service,
    ports: instance.ports,
    supervisor: prepared.supervise(),
    checkTarget: prepared.checkTarget,
    ...(health === undefined ? {} : { health }),
    fingerprint: 'test',
    onChange: () => {},
    onEvent: () => {},
  });
  try {
    await runner.start();
    // A bound on the wait only, never a measurement: a check that never passes fails here.
    for (const deadline = Date.now() + 15_000; !runner.status().healthy;) {
      if (Date.now() > deadline)
        throw new Error(`never healthy: ${runner.status().health_detail ?? ''}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return runner.status().health_detail ?? '';
  } finally {
    await runner.stop();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-exec-user-'));
  await chmod(dir, 0o755);
  work = path.join(dir, 'work');
  guarded = path.join(dir, 'guarded');
  await mkdir(guarded, { mode: 0o755 });
  paths = {
    secretFiles: path.join(dir, 'secret-files'),
    instances: path.join(dir, 'instances'),
    logs: path.join(dir, 'logs'),
  };
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!isRoot)('an exec health check runs as its service', () => {
  it("with the service's uid, gid, directory and rendered secret; the rewritten check cannot act as root", async () => {
    const nobody = resolveUser('nobody');
    await mkdir(work, { mode: 0o755 });
    await chown(work, nobody.uid, nobody.gid);
    // The check the operator wrote; the service's user owns it and the directory it is in.
    const check = path.join(work, 'check.sh');
    await writeFile(
      check,
      [
        '#!/bin/sh',
        'ids="$(id -u) $(id -G)"',
        'echo "ran as $ids in $(pwd -P)"',
        // Passes only once the service's line below is in (it leaves ./injected).
        'test -e injected && test "$ids" = "$EXPECT_IDS" && test "$TOKEN" = "$EXPECT_TOKEN" &&',
        '  test "$(pwd -P)" = "$EXPECT_CWD" && test -z "$AGENT_ONLY"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    await chown(check, nobody.uid, nobody.gid);
    const pwned = path.join(guarded, 'pwned');
    process.env['AGENT_ONLY'] = 'the agent environment must not reach a check';
    try {
      const detail = await untilHealthy(
        desiredApp(
          {
            // The compromised service slips a line into its check, then idles.
            command: [
              'sh',
              '-c',
              `sed -i "2i touch ${pwned}; touch injected" check.sh && exec sleep 600`,
            ],
            user: 'nobody',
          },
          {
            TOKEN: '${secret:TOKEN}',
            EXPECT_TOKEN: TOKEN,
            EXPECT_IDS: `${nobody.uid} ${nobody.gid}`,
            EXPECT_CWD: work,
          },
          { exec: { command: ['./check.sh'] }, interval: '100ms', timeout: '2s' },
        ),
      );
      expect(detail).toBe('exit 0');
    } finally {
      delete process.env['AGENT_ONLY'];
    }
    // The injected line ran (as nobody) and could not write where only root may.
    await expect(stat(pwned)).rejects.toThrow('ENOENT');
  }, 30_000);

  it("a secret on the check's command line is refused, never rendered into argv", () => {
    const instance = desiredApp(
      { command: ['sleep', '600'], user: 'nobody' },
      { TOKEN: '${secret:TOKEN}' },
      { exec: { command: ['check', '--token', '${secret:TOKEN}'] } },
    );
    expect(() => healthCheckFor(instance)).toThrow(InstanceSpecError);
    expect(() => healthCheckFor(instance)).toThrow(/secret TOKEN on a command line/);
  });

  it('a literal `$${` in the check reaches it as `${`, as in the command', () => {
    // Plan keeps a literal `${` escaped as `$${` (its strings are still templates).
    const instance = desiredApp(
      { command: ['sleep', '600'] },
      {},
      { exec: { command: ['sh', '-c', 'test -n "$${HOME}"'] } },
    );
    expect(healthCheckFor(instance)?.exec?.command).toEqual(['sh', '-c', 'test -n "${HOME}"']);
  });
});
