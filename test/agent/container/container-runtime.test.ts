// The container runtime against a real, private dockerd (in its own network namespace):
// an image service runs and answers on its loopback-published port, exits come from the
// engine's events and are restarted with backoff, a crash loop ends failed, stop uses the
// stop signal, a new agent adopts what the last one left running, a changed spec replaces
// it, leftovers of the stack go and a container without Flotilla's labels stays.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ContainerRuntime } from '../../../src/agent/runtime/container-runtime.ts';
import type { ContainerSupervisor } from '../../../src/agent/runtime/container-supervisor.ts';
import { healthProbe } from '../../../src/agent/health/check.ts';
import { healthSchema } from '../../../src/spec/schema.ts';
import {
  IMAGE,
  imageInstance,
  next,
  startWithSecretFiles,
  useFixture,
  wgetArgs,
  type Fixture,
} from './fixture.ts';

const FAST = { initialDelayMs: 10, maxDelayMs: 50, minUptimeMs: 2_000, maxUnstableStarts: 3 };
const noSecrets = () => undefined;
/** A shared 2-core machine can be slow: poll long, the assertion is on what arrives. */
// Bounds on waits, never measurements: a loaded machine slows dockerd down a lot.
const PATIENT = { timeout: 30_000 };

describe.skipIf(process.getuid?.() !== 0)(
  'container runtime (real dockerd)',
  { timeout: 90_000 },
  () => {
    const fixture = useFixture();

    const supervise = (runtime: ReturnType<Fixture['runtime']>, instance = imageInstance('x-1')) =>
      runtime.prepare(instance, noSecrets).supervise() as ContainerSupervisor;
    const engine = () => fixture().dockerd.engine;

    it('runs an image service that answers on its loopback-published port, labelled, under docker-init', async () => {
      const runtime = fixture().runtime();
      const supervisor = supervise(
        runtime,
        imageInstance('web-1', {
          ports: { http: 18080 },
          runtime: {
            command: ['httpd', '-f', '-p', '8080', '-h', '/var/www'],
            container_ports: { http: 8080 },
          },
        }),
      );
      await supervisor.start();
      expect(supervisor.status.state).toBe('running');
      const container = supervisor.status.container!;
      const info = await engine().containers.inspect(container.id);
      expect(info.name).toBe(`flotilla-${fixture().stack}-web-1`);
      expect(info.labels).toMatchObject({
        'flotilla.stack': fixture().stack,
        'flotilla.node': 'n1',
        'flotilla.service': 'web',
        'flotilla.instance': 'web-1',
        'flotilla.spec-hash': supervisor.specHash,
      });
      expect(info.hostConfig.init).toBe(true);
      expect(info.ports).toEqual([
        { containerPort: 8080, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 18080 },
      ]);
      expect(info.networks[`flotilla-${fixture().stack}-default`]?.aliases).toContain('web');
      expect(supervisor.status.pid).toBe(info.state.pid);
      expect(container.image_id).toBe(info.imageId);
      expect(await fixture().inNetns(wgetArgs(18080))).toBe('hello from flotilla-test\n');
      await supervisor.stop();
      await expect(engine().containers.inspect(container.id)).rejects.toThrow(/no container/);
    });

    it('restarts a killed container with backoff and counts it; a crash loop ends failed', async () => {
      const runtime = fixture().runtime(FAST);
      const supervisor = supervise(runtime, imageInstance('killed-1'));
      await supervisor.start();
      const id = supervisor.status.container!.id;
      const restarting = next(supervisor, 'restarting');
      const started = next(supervisor, 'started');
      await engine().containers.kill(id);
      expect((await restarting).delayMs).toBe(FAST.initialDelayMs);
      await started;
      expect(supervisor.status).toMatchObject({ state: 'running', restarts: 1 });
      expect(supervisor.status.lastExit?.code).toBe(137);
      await supervisor.stop();

      const looping = supervise(
        runtime,
        imageInstance('loop-1', { runtime: { command: ['sh', '-c', 'exit 3'] } }),
      );
      const failed = next(looping, 'failed');
      await looping.start();
      expect(await failed).toEqual({ unstableStarts: FAST.maxUnstableStarts });
      expect(looping.status).toMatchObject({ state: 'failed', restarts: 2 });
      expect(looping.status.lastExit?.code).toBe(3);
      await looping.stop();
    });

    it('stops with the instance’s stop signal, then removes the container', async () => {
      const runtime = fixture().runtime();
      const out = path.join(fixture().dir, 'stop-out');
      await mkdir(out, { recursive: true });
      const supervisor = supervise(
        runtime,
        imageInstance('stopper-1', {
          stop: { signal: 'SIGUSR1', timeout: '20s' },
          runtime: {
            command: [
              'sh',
              '-c',
              'trap "echo got-usr1 > /out/signal; exit 0" USR1; while true; do sleep 0.1; done',
            ],
            mounts: [{ type: 'bind', source: out, target: '/out', read_only: false }],
          },
        }),
      );
      await supervisor.start();
      const id = supervisor.status.container!.id;
      await supervisor.stop();
      expect(await readFile(path.join(out, 'signal'), 'utf8')).toBe('got-usr1\n');
      expect(supervisor.status.state).toBe('stopped');
      await expect(engine().containers.inspect(id)).rejects.toThrow(/no container/);
    });

    it('adopts what a detached agent left running (same container, same start) and replaces it when the spec changed', async () => {
      const first = supervise(fixture().runtime(), imageInstance('adopt-1'));
      await first.start();
      const before = first.status;
      first.detach();

      const adopter = supervise(fixture().runtime(), imageInstance('adopt-1'));
      const started = next(adopter, 'started');
      await adopter.start();
      expect((await started).adopted).toBe(true);
      expect(adopter.status.container!.id).toBe(before.container!.id);
      expect(adopter.status.startedAt).toBe(before.startedAt);
      adopter.detach();

      const changed = supervise(
        fixture().runtime(),
        imageInstance('adopt-1', { env: { NEW: '1' } }),
      );
      await changed.start();
      expect(changed.status.container!.id).not.toBe(before.container!.id);
      await expect(engine().containers.inspect(before.container!.id)).rejects.toThrow(
        /no container/,
      );
      await changed.stop();
    });

    it('removes a leftover of this stack that is not desired, and never touches a container without Flotilla labels', async () => {
      const left = supervise(fixture().runtime(), imageInstance('gone-1'));
      await left.start();
      const leftId = left.status.container!.id;
      left.detach();
      const { id: foreign } = await engine().containers.create({
        name: `foreign-${fixture().stack}`,
        image: IMAGE,
        cmd: ['sleep', '3600'],
        labels: { 'flotilla.instance': 'gone-1' },
      });
      await engine().containers.start(foreign);

      const runtime = fixture().runtime();
      expect(await runtime.leftovers()).toEqual(['gone-1']);
      await runtime.stopLeftover('gone-1');
      expect(await runtime.leftovers()).toEqual([]);
      await expect(engine().containers.inspect(leftId)).rejects.toThrow(/no container/);
      expect((await engine().containers.inspect(foreign)).state.running).toBe(true);
      await engine().containers.remove(foreign, { force: true });
    });

    it('mounts secret_files read-only at /run/secrets/NAME (0400) with NAME_FILE, never in the env', async () => {
      const instance = imageInstance('secret-1', {
        secret_files: ['API_TOKEN'],
        secrets: ['API_TOKEN'],
      });
      const secrets = (name: string) => (name === 'API_TOKEN' ? 'tok-3f9a1c' : undefined);
      const supervisor = await startWithSecretFiles(fixture(), instance, secrets);
      const id = supervisor.status.container!.id;
      const sh = (script: string) => engine().exec.run(id, { cmd: ['sh', '-c', script] });
      expect((await sh('cat /run/secrets/API_TOKEN')).stdout).toBe('tok-3f9a1c');
      expect((await sh('stat -c %a /run/secrets/API_TOKEN')).stdout.trim()).toBe('400');
      expect((await sh('echo $API_TOKEN_FILE')).stdout.trim()).toBe('/run/secrets/API_TOKEN');
      expect((await sh('echo hi > /run/secrets/API_TOKEN')).exitCode).not.toBe(0);
      const env = (await engine().containers.inspect(id)).config.env.join('\n');
      expect(env).toContain('API_TOKEN_FILE=/run/secrets/API_TOKEN');
      expect(env).not.toContain('tok-3f9a1c');
      await supervisor.stop();
    });

    it('runs an exec health check inside the container, as its user', async () => {
      const prepared = fixture()
        .runtime()
        .prepare(
          imageInstance('probe-1', {
            runtime: {
              command: ['sh', '-c', 'echo inside > /tmp/only-here; exec sleep 3600'],
              user: 'nobody',
            },
          }),
          noSecrets,
        );
      // Through the agent's own path: the stack's `health.exec`, probed with the prepared target.
      const check = (command: string[]) =>
        healthProbe(
          healthSchema.parse({ exec: { command }, timeout: '5s' }),
          prepared.checkTarget,
        )();
      expect(await check(['true'])).toEqual({ ok: false, detail: 'not running' });
      const supervisor = prepared.supervise() as ContainerSupervisor;
      await supervisor.start();
      // The file exists only in the container's filesystem; `id -u` says who ran the check.
      await expect
        .poll(() => check(['cat', '/tmp/only-here']), PATIENT)
        .toEqual({
          ok: true,
          detail: 'exit 0',
        });
      expect(await check(['sh', '-c', 'test "$(id -u)" = 65534'])).toMatchObject({ ok: true });
      expect(await check(['cat', '/nope'])).toMatchObject({
        ok: false,
        detail: expect.stringMatching(/^exit 1/),
      });
      await supervisor.stop();
    });

    it('writes what the service needs in an env file into its environment', async () => {
      const envFile = path.join(fixture().dir, 'svc.env');
      await writeFile(envFile, 'FROM_FILE=yes\n');
      const supervisor = supervise(
        fixture().runtime(),
        imageInstance('envy-1', { env: { DECLARED: 'd' }, runtime: { env_files: [envFile] } }),
      );
      await supervisor.start();
      const env = (await engine().containers.inspect(supervisor.status.container!.id)).config.env;
      expect(env).toEqual(
        expect.arrayContaining([
          'FROM_FILE=yes',
          'DECLARED=d',
          'FLOTILLA_INSTANCE=envy-1',
          'FLOTILLA_NODE=n1',
        ]),
      );
      // The host's PATH and HOME are not forced on the image.
      expect(env.some((entry) => entry.startsWith('HOME=/root'))).toBe(false);
      await supervisor.stop();
    });
    it('gives a container instance’s logs: history, and a follow that goes on across a restart', async () => {
      const runtime = fixture().runtime(FAST);
      const supervisor = supervise(
        runtime,
        imageInstance('talker-1', {
          runtime: {
            command: [
              'sh',
              '-c',
              'echo hello; sleep 0.2; echo to-stderr >&2; while true; do if [ -f /tmp/go ]; then echo later; rm /tmp/go; fi; sleep 0.1; done',
            ],
          },
        }),
      );
      await supervisor.start();
      await expect
        .poll(() => runtime.logs('talker-1', 10), PATIENT)
        .toEqual(['hello', 'to-stderr']);
      expect(await runtime.logs('nobody-1', 10)).toEqual([]);

      const seen: string[] = [];
      const follower = runtime.followLogs('talker-1', (lines) => seen.push(...lines), { lines: 1 });
      try {
        await expect.poll(() => seen, PATIENT).toEqual(['to-stderr']);
        const id = supervisor.status.container!.id;
        await engine().exec.run(id, { cmd: ['touch', '/tmp/go'] });
        await expect.poll(() => seen, PATIENT).toEqual(['to-stderr', 'later']);
        const started = next(supervisor, 'started');
        await engine().containers.kill(id);
        await started;
        await expect
          .poll(() => seen, PATIENT)
          .toEqual(['to-stderr', 'later', 'hello', 'to-stderr']);
      } finally {
        follower.close();
        await supervisor.stop();
      }
    });
    it('applies the limits and hardening of the stack file, and reports an OOM kill at the memory limit', async () => {
      const supervisor = supervise(
        fixture().runtime(),
        imageInstance('tight-1', {
          restart: 'never',
          runtime: {
            user: 'nobody',
            read_only: true,
            cap_drop: ['ALL'],
            memory_bytes: 16 * 1024 * 1024,
            cpus: 0.5,
            // The shell holds 64 MiB in a variable under a 16 MiB limit (no swap here); `$${`
            // is a literal `${`, escaped as plan leaves it.
            command: [
              'sh',
              '-c',
              'sleep 1; a=$(head -c 67108864 /dev/zero | tr "\\0" a); echo $${#a}',
            ],
          },
        }),
      );
      const exited = next(supervisor, 'exited');
      await supervisor.start();
      const info = await engine().containers.inspect(supervisor.status.container!.id);
      expect(info.hostConfig).toMatchObject({
        memoryBytes: 16 * 1024 * 1024,
        nanoCpus: 500_000_000,
        readonlyRootfs: true,
        capDrop: ['ALL'],
        init: true,
      });
      expect(info.config.user).toBe('nobody');
      await exited;
      expect(supervisor.status.state).toBe('exited');
      expect(supervisor.status.container?.oom_killed).toBe(true);
      await supervisor.stop();
    });
    it('never takes over a network of the same name that Flotilla did not create', async () => {
      const stack = `${fixture().stack}x`;
      await engine().networks.create({ name: `flotilla-${stack}-default` });
      const runtime = new ContainerRuntime({
        socketPath: fixture().dockerd.socketPath,
        stack,
        node: 'n1',
        paths: fixture().paths,
        log: () => {},
        timing: FAST,
      });
      const supervisor = supervise(runtime, imageInstance('netless-1'));
      const failed = next(supervisor, 'failed');
      await supervisor.start();
      await failed;
      expect(supervisor.status.error).toMatch(/exists but Flotilla did not create it/);
      expect(await engine().containers.list({ 'flotilla.stack': stack })).toEqual([]);
      await supervisor.stop();
      runtime.close();
      await engine().networks.remove(`flotilla-${stack}-default`);
    });
  },
);
