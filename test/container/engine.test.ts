// The engine client against a real, private dockerd running in a network namespace of its
// own (its bridges and all container traffic stay out of the host's namespace), with a
// busybox image imported locally and a docker-registry with htpasswd in the same namespace.
// One dockerd for the whole file; it and everything in it go in afterAll.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ContainerCreateOptions,
  type ContainerEvent,
  DockerEngine,
  EngineConflictError,
  EngineError,
  EngineUnavailableError,
  ExecTimeoutError,
  ImageTagNotFoundError,
  NoSuchContainerError,
  NoSuchImageError,
  NoSuchNetworkError,
  RegistryUnauthorizedError,
  RegistryUnreachableError,
  type TransferProgress,
} from '../../src/container/engine/index.ts';
import { type Dockerd, startDockerd } from '../helpers/dockerd.ts';
import { type Registry, startRegistry } from '../helpers/registry.ts';
import { BUSYBOX, buildTestImage } from '../helpers/test-image.ts';

const execFileAsync = promisify(execFile);
const IMAGE = 'flotilla-test/busybox:1';
const run = randomBytes(3).toString('hex');
const labels = { 'flotilla.test': run };

describe.skipIf(process.getuid?.() !== 0)(
  'Docker Engine client (real dockerd)',
  { timeout: 90_000 },
  () => {
    let dockerd: Dockerd;
    let engine: DockerEngine;
    let imageId: string;

    beforeAll(async () => {
      dockerd = await startDockerd({ netns: true });
      engine = dockerd.engine;
      imageId = await buildTestImage(engine, { reference: IMAGE });
    }, 90_000);

    afterAll(async () => {
      await dockerd?.stop();
    }, 60_000);

    /** A started container; by default a sleeper whose init passes `stop`'s SIGTERM on. */
    async function started(name: string, options: Partial<ContainerCreateOptions> = {}) {
      const { id } = await engine.containers.create({
        name: `${run}-${name}`,
        image: IMAGE,
        labels,
        cmd: ['sleep', '3600'],
        init: true,
        ...options,
      });
      await engine.containers.start(id);
      return id;
    }

    const setForwarding = (on: boolean) =>
      execFileAsync('ip', [
        'netns',
        'exec',
        dockerd.netns!,
        'sysctl',
        '-q',
        '-w',
        `net.ipv4.ip_forward=${on ? 1 : 0}`,
      ]);

    const sh = (id: string, script: string) => engine.exec.run(id, { cmd: ['sh', '-c', script] });

    it('answers ping and version on the socket; a missing socket is EngineUnavailableError with a hint', async () => {
      await engine.system.ping();
      const version = await engine.system.version();
      expect(Number(version.apiVersion)).toBeGreaterThanOrEqual(1.41);
      expect(['overlay2', 'vfs']).toContain(dockerd.storageDriver);

      const missing = new DockerEngine({ socketPath: path.join(dockerd.dir, 'nothing.sock') });
      const error = await missing.system.ping().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(EngineUnavailableError);
      expect((error as EngineUnavailableError).hint).toMatch(/is dockerd running\?/);
    });

    it('imports an image with CMD, ENV, EXPOSE, USER and HEALTHCHECK changes and reads them back', async () => {
      const reference = 'flotilla-test/busybox:web';
      const id = await buildTestImage(engine, {
        reference,
        changes: [
          'CMD ["httpd", "-f", "-p", "8080", "-h", "/var/www"]',
          'ENV GREETING=hello',
          'EXPOSE 8080/tcp',
          'USER nobody',
          'HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD wget -q -O /dev/null http://127.0.0.1:8080/',
        ],
      });
      const image = await engine.images.inspect(reference);
      expect(image.id).toBe(id);
      expect(image.repoTags).toContain(reference);
      expect(image.cmd).toEqual(['httpd', '-f', '-p', '8080', '-h', '/var/www']);
      expect(image.env).toContain('GREETING=hello');
      expect(image.exposedPorts).toEqual([{ port: 8080, protocol: 'tcp' }]);
      expect(image.user).toBe('nobody');
      expect(image.healthcheck).toEqual({
        test: ['CMD-SHELL', 'wget -q -O /dev/null http://127.0.0.1:8080/'],
        intervalMs: 1000,
        timeoutMs: 2000,
        startPeriodMs: undefined,
        retries: 2,
      });

      const missing = await engine.images
        .inspect('flotilla-test/none:1')
        .catch((caught: unknown) => caught);
      expect(missing).toBeInstanceOf(NoSuchImageError);
      expect((missing as NoSuchImageError).hint).toMatch(/pull it first/);
    });

    it('creates, starts, inspects, lists by label, stops and removes a container', async () => {
      const id = await started('life', {
        labels: { ...labels, 'flotilla.service': 'life' },
        env: { GREETING: 'hi there' },
        cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'],
        init: false,
        workingDir: '/tmp',
        stopTimeoutSeconds: 5,
      });
      const running = await engine.containers.inspect(id);
      expect(running).toMatchObject({
        id,
        name: `${run}-life`,
        imageId,
        image: IMAGE,
        labels: { 'flotilla.test': run, 'flotilla.service': 'life' },
        restartCount: 0,
        config: { workingDir: '/tmp', stopTimeoutSeconds: 5 },
      });
      expect(running.config.env).toContain('GREETING=hi there');
      expect(running.state).toMatchObject({ status: 'running', running: true, oomKilled: false });
      expect(running.state.pid).toBeGreaterThan(0);
      expect(running.state.startedAt).toBeInstanceOf(Date);
      expect(running.state.finishedAt).toBeUndefined();

      const listed = await engine.containers.list({
        'flotilla.service': 'life',
        'flotilla.test': run,
      });
      expect(listed.map((container) => [container.id, container.name, container.status])).toEqual([
        [id, `${run}-life`, 'running'],
      ]);
      expect(await engine.containers.list({ 'flotilla.service': 'other' })).toEqual([]);

      const clash = await engine.containers
        .create({ name: `${run}-life`, image: IMAGE, cmd: ['true'] })
        .catch((caught: unknown) => caught);
      expect(clash).toBeInstanceOf(EngineConflictError);

      await engine.containers.stop(id, { timeoutSeconds: 10 });
      const stopped = await engine.containers.inspect(id);
      expect(stopped.state).toMatchObject({
        status: 'exited',
        running: false,
        exitCode: 0,
        pid: 0,
      });
      expect(stopped.state.finishedAt).toBeInstanceOf(Date);
      // Stopping a stopped container is not an error; listing still finds it (all=true).
      await engine.containers.stop(id);
      expect((await engine.containers.list(labels)).map((container) => container.id)).toContain(id);

      await engine.containers.remove(id);
      await expect(engine.containers.inspect(id)).rejects.toBeInstanceOf(NoSuchContainerError);
      await expect(engine.containers.remove(id)).rejects.toBeInstanceOf(NoSuchContainerError);
    });

    it('reads logs as history and follows them, stdout and stderr apart', async () => {
      const id = await started('logs', {
        cmd: [
          'sh',
          '-c',
          'echo out1; echo err1 >&2; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo out2; echo err2 >&2',
        ],
      });
      const follow = await engine.logs.open(id, { follow: true });
      const followed: string[] = [];
      for await (const line of follow) {
        followed.push(`${line.stream}:${line.line}`);
        // The second half is written only once the first half has been read here.
        if (followed.length === 2) await sh(id, 'touch /tmp/go');
      }
      // The follow stream ended by itself when the container exited.
      expect(followed.filter((line) => line.startsWith('stdout'))).toEqual([
        'stdout:out1',
        'stdout:out2',
      ]);
      expect(followed.filter((line) => line.startsWith('stderr'))).toEqual([
        'stderr:err1',
        'stderr:err2',
      ]);
      expect((await engine.containers.wait(id)).exitCode).toBe(0);

      const history = [];
      for await (const line of await engine.logs.open(id, { timestamps: true })) history.push(line);
      expect(history.map((line) => `${line.stream}:${line.line}`).sort()).toEqual([
        'stderr:err1',
        'stderr:err2',
        'stdout:out1',
        'stdout:out2',
      ]);
      for (const line of history) expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT/);

      const tail = [];
      for await (const line of await engine.logs.open(id, { tail: 1 })) tail.push(line.line);
      expect(tail).toHaveLength(1);
      const last = history.reduce((latest, line) => (line.time! > latest.time! ? line : latest));
      const since = [];
      for await (const line of await engine.logs.open(id, { since: last.time }))
        since.push(line.line);
      expect(since).toEqual([last.line]);
    });

    it('ends a follow stream quietly when its signal aborts, while the container runs on', async () => {
      const id = await started('chatty', {
        cmd: ['sh', '-c', 'while true; do echo tick; sleep 0.1; done'],
      });
      const controller = new AbortController();
      const lines: string[] = [];
      for await (const line of await engine.logs.open(id, {
        follow: true,
        signal: controller.signal,
      })) {
        lines.push(line.line);
        if (lines.length === 3) controller.abort();
      }
      expect(lines).toEqual(['tick', 'tick', 'tick']);
      expect((await engine.containers.inspect(id)).state.running).toBe(true);
    });

    it('runs an exec with its exit code and output, and kills one that overruns its timeout', async () => {
      const id = await started('exec');
      const result = await engine.exec.run(id, {
        cmd: ['sh', '-c', 'echo "$WHO"; echo oops >&2; exit 3'],
        env: { WHO: 'exec-env' },
      });
      expect(result).toEqual({
        exitCode: 3,
        stdout: 'exec-env\n',
        stderr: 'oops\n',
        truncated: false,
      });

      const nobody = await engine.exec.run(id, { cmd: ['id', '-u'], user: 'nobody' });
      expect(nobody.stdout.trim()).toBe('65534');

      const overrun = await engine.exec
        .run(id, { cmd: ['sleep', '417'], timeoutMs: 500 })
        .catch((caught: unknown) => caught);
      expect(overrun).toBeInstanceOf(ExecTimeoutError);
      // Killed, not left running in the container (its shim reaps it a moment later).
      let left = (await sh(id, 'ps -o args')).stdout;
      for (let tries = 0; left.includes('sleep 417') && tries < 100; tries++) {
        await sleep(50);
        left = (await sh(id, 'ps -o args')).stdout;
      }
      expect(left).not.toContain('sleep 417');
    });

    it('mounts a secret file 0400 inside a 0700 tmpfs, never in the environment', async () => {
      const secretFile = path.join(dockerd.dir, 'token');
      await writeFile(secretFile, 's3cr3t-value');
      await chmod(secretFile, 0o400);
      const id = await started('secrets', {
        mounts: [
          { type: 'tmpfs', target: '/run/secrets', sizeBytes: 1 << 20, mode: 0o700 },
          { type: 'bind', source: secretFile, target: '/run/secrets/token', readOnly: true },
        ],
      });
      const listing = await sh(
        id,
        'stat -c "%a %U" /run/secrets /run/secrets/token; cat /run/secrets/token',
      );
      expect(listing.stdout).toBe('700 root\n400 root\ns3cr3t-value');
      expect((await sh(id, 'grep " /run/secrets " /proc/mounts')).stdout).toMatch(
        /^tmpfs \/run\/secrets tmpfs /,
      );
      const info = await engine.containers.inspect(id);
      expect(JSON.stringify(info.config.env)).not.toContain('s3cr3t-value');
      expect(info.mounts).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'tmpfs', destination: '/run/secrets' }),
          expect.objectContaining({
            type: 'bind',
            destination: '/run/secrets/token',
            readOnly: true,
          }),
        ]),
      );
    });

    it('applies memory and CPU limits, a read-only root filesystem and dropped capabilities', async () => {
      const id = await started('limits', {
        memoryBytes: 64 * 1024 * 1024,
        nanoCpus: 500_000_000,
        readonlyRootfs: true,
        capDrop: ['CHOWN'],
        mounts: [{ type: 'tmpfs', target: '/tmp' }],
      });
      const info = await engine.containers.inspect(id);
      expect(info.hostConfig).toMatchObject({
        memoryBytes: 64 * 1024 * 1024,
        nanoCpus: 500_000_000,
        readonlyRootfs: true,
        capDrop: ['CHOWN'],
        init: true,
      });
      const limit = await sh(
        id,
        'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes',
      );
      expect(limit.stdout.trim()).toBe(String(64 * 1024 * 1024));

      const write = await sh(id, 'echo x > /written');
      expect(write.exitCode).not.toBe(0);
      expect(write.stderr).toMatch(/Read-only file system/);
      expect((await sh(id, 'echo x > /tmp/written')).exitCode).toBe(0);

      const chown = await sh(id, 'chown 1 /tmp/written');
      expect(chown.exitCode).not.toBe(0);
      expect(chown.stderr).toMatch(/Operation not permitted/);
      // The same command with the default capabilities works: the drop is what refused it.
      const plain = await started('caps');
      expect((await sh(plain, 'touch /tmp/f && chown 1 /tmp/f')).exitCode).toBe(0);
    });

    it('publishes a port on an explicit loopback address, reachable there', async () => {
      await engine.networks.create({
        name: `${run}-published`,
        labels,
        subnet: '10.213.9.0/24',
        gateway: '10.213.9.1',
      });
      const id = await started('web', {
        cmd: ['httpd', '-f', '-p', '8080', '-h', '/var/www'],
        networkMode: `${run}-published`,
        ports: [{ containerPort: 8080, hostIp: '127.0.0.1' }],
      });
      const [port] = (await engine.containers.inspect(id)).ports;
      expect(port).toMatchObject({ containerPort: 8080, protocol: 'tcp', hostIp: '127.0.0.1' });
      expect(port!.hostPort).toBeGreaterThan(0);
      // From dockerd's namespace: its loopback is where the port is published.
      const { stdout } = await execFileAsync('ip', [
        'netns',
        'exec',
        dockerd.netns!,
        BUSYBOX,
        'wget',
        '-q',
        '-O',
        '-',
        `http://127.0.0.1:${port!.hostPort}/`,
      ]);
      expect(stdout).toBe('hello from flotilla-test\n');
    });

    it('keeps networks apart when nothing forwards: same network reaches, another does not, until connected', async () => {
      const segmentLabels = { ...labels, 'flotilla.segment': 'yes' };
      const backend = await engine.networks.create({
        name: `${run}-backend`,
        labels: segmentLabels,
        internal: true,
        subnet: '10.213.1.0/24',
        gateway: '10.213.1.1',
        options: { 'com.docker.network.bridge.name': `flt${run}b` },
      });
      await engine.networks.create({
        name: `${run}-frontend`,
        labels: segmentLabels,
        internal: true,
        subnet: '10.213.2.0/24',
      });
      const networks = await engine.networks.list(segmentLabels);
      expect(networks.map((network) => network.name).sort()).toEqual([
        `${run}-backend`,
        `${run}-frontend`,
      ]);
      const inspected = await engine.networks.inspect(backend);
      expect(inspected).toMatchObject({
        name: `${run}-backend`,
        driver: 'bridge',
        internal: true,
        ipam: [{ subnet: '10.213.1.0/24', gateway: '10.213.1.1' }],
        options: { 'com.docker.network.bridge.name': `flt${run}b` },
      });

      const server = await started('db', {
        cmd: ['httpd', '-f', '-p', '8080', '-h', '/var/www'],
        networkMode: `${run}-backend`,
        networkAliases: ['db'],
      });
      const sameSegment = await started('api', { networkMode: `${run}-backend` });
      const otherSegment = await started('front', { networkMode: `${run}-frontend` });
      const serverAddress = (await engine.containers.inspect(server)).networks[`${run}-backend`]!
        .ipAddress;
      expect(serverAddress).toMatch(/^10\.213\.1\./);
      // `timeout`, not wget's -T: busybox 1.35's static wget crashes (SIGSEGV) with -T.
      const fetch = (from: string, host: string) =>
        sh(from, `timeout 3 wget -q -O - http://${host}:8080/`);

      expect((await fetch(sameSegment, serverAddress)).stdout).toBe('hello from flotilla-test\n');
      expect((await fetch(sameSegment, 'db')).stdout).toBe('hello from flotilla-test\n');
      expect((await fetch(otherSegment, serverAddress)).exitCode).not.toBe(0);
      // What keeps them apart is that dockerd's namespace does not forward: with --iptables=false
      // `internal` adds no rule, and containers still get a default route via the bridge.
      await setForwarding(true);
      try {
        expect((await fetch(otherSegment, serverAddress)).stdout).toBe(
          'hello from flotilla-test\n',
        );
      } finally {
        await setForwarding(false);
      }

      await engine.networks.connect(`${run}-frontend`, server, { aliases: ['shared-db'] });
      const joined = (await engine.containers.inspect(server)).networks[`${run}-frontend`]!;
      expect(joined.aliases).toContain('shared-db');
      expect((await fetch(otherSegment, joined.ipAddress)).stdout).toBe(
        'hello from flotilla-test\n',
      );
      await engine.networks.disconnect(`${run}-frontend`, server);
      expect(Object.keys((await engine.containers.inspect(server)).networks)).toEqual([
        `${run}-backend`,
      ]);

      await expect(engine.networks.remove(backend)).rejects.toBeInstanceOf(EngineConflictError);
    });

    it('streams container events by label: a die with its exit code, ending cleanly on abort', async () => {
      const caseLabels = { ...labels, 'flotilla.case': 'events' };
      const controller = new AbortController();
      const events = await engine.events.containers({
        labels: caseLabels,
        signal: controller.signal,
      });
      await started('noise');
      const id = await started('dies', { labels: caseLabels, cmd: ['sh', '-c', 'exit 7'] });
      const seen: ContainerEvent[] = [];
      for await (const event of events) {
        seen.push(event);
        if (event.action === 'die') controller.abort();
      }
      expect(seen.map((event) => [event.action, event.containerId])).toEqual([
        ['start', id],
        ['die', id],
      ]);
      expect(seen[1]).toMatchObject({ exitCode: 7, attributes: { 'flotilla.case': 'events' } });
    });

    it('reports a container the kernel killed at its memory limit: an oom event, OOMKilled', async () => {
      const caseLabels = { ...labels, 'flotilla.case': 'oom' };
      const controller = new AbortController();
      const events = await engine.events.containers({
        labels: caseLabels,
        signal: controller.signal,
      });
      // The shell holds 64 MiB in a variable under a 16 MiB limit (this machine has no swap).
      const id = await started('oom', {
        labels: caseLabels,
        memoryBytes: 16 * 1024 * 1024,
        init: false,
        cmd: ['sh', '-c', 'a=$(head -c 67108864 /dev/zero | tr "\\0" a); echo ${#a}'],
      });
      const seen: ContainerEvent[] = [];
      for await (const event of events) {
        seen.push(event);
        if (event.action === 'die') controller.abort();
      }
      expect(seen.map((event) => event.action)).toContain('oom');
      expect(seen.at(-1)).toMatchObject({ action: 'die', containerId: id, exitCode: 137 });
      expect((await engine.containers.inspect(id)).state).toMatchObject({
        oomKilled: true,
        exitCode: 137,
      });
    });

    it('reports an image HEALTHCHECK through inspect and a health_status event', async () => {
      await buildTestImage(engine, {
        reference: 'flotilla-test/busybox:healthy',
        changes: [
          'CMD ["httpd", "-f", "-p", "8080", "-h", "/var/www"]',
          'HEALTHCHECK --interval=1s --timeout=2s CMD wget -q -O /dev/null http://127.0.0.1:8080/',
        ],
      });
      const caseLabels = { ...labels, 'flotilla.case': 'health' };
      const controller = new AbortController();
      const events = await engine.events.containers({
        labels: caseLabels,
        actions: ['health_status'],
        signal: controller.signal,
      });
      const id = await started('healthy', {
        image: 'flotilla-test/busybox:healthy',
        labels: caseLabels,
        cmd: undefined,
      });
      for await (const event of events) {
        expect(event).toMatchObject({
          action: 'health_status',
          containerId: id,
          health: 'healthy',
        });
        controller.abort();
      }
      const health = (await engine.containers.inspect(id)).state.health;
      expect(health).toMatchObject({ status: 'healthy', failingStreak: 0, last: { exitCode: 0 } });
    });

    it('creates, lists and inspects volumes by label; removing a container keeps its volume', async () => {
      const name = `${run}-data`;
      const volume = await engine.volumes.create({
        name,
        labels: { ...labels, 'flotilla.volume': 'data' },
      });
      expect(volume).toMatchObject({
        name,
        driver: 'local',
        labels: { 'flotilla.volume': 'data' },
      });
      const writer = await started('writer', {
        mounts: [{ type: 'volume', source: name, target: '/data' }],
      });
      expect((await sh(writer, 'echo kept > /data/file')).exitCode).toBe(0);
      await engine.containers.remove(writer, { force: true });

      expect((await engine.volumes.list({ 'flotilla.volume': 'data' })).map((v) => v.name)).toEqual(
        [name],
      );
      const reader = await started('reader', {
        mounts: [{ type: 'volume', source: name, target: '/data' }],
      });
      expect((await sh(reader, 'cat /data/file')).stdout).toBe('kept\n');
      await engine.containers.remove(reader, { force: true });
      await engine.volumes.remove(name);
      expect(await engine.volumes.list({ 'flotilla.volume': 'data' })).toEqual([]);
    });

    it('fails clearly for a missing image, a missing executable and a missing network', async () => {
      const noImage = await engine.containers
        .create({ name: `${run}-ghost`, image: 'flotilla-test/ghost:1' })
        .catch((caught: unknown) => caught);
      expect(noImage).toBeInstanceOf(NoSuchImageError);

      const { id } = await engine.containers.create({
        name: `${run}-broken`,
        image: IMAGE,
        cmd: ['/no/such/program'],
      });
      const notStarted = await engine.containers.start(id).catch((caught: unknown) => caught);
      expect(notStarted).toBeInstanceOf(EngineError);
      expect((notStarted as EngineError).message).toMatch(/did not start: .*no such file/);
      expect((await engine.containers.inspect(id)).state).toMatchObject({
        status: 'created',
        running: false,
        error: expect.stringContaining('/no/such/program'),
      });

      await expect(engine.networks.connect(`${run}-nowhere`, id)).rejects.toBeInstanceOf(
        NoSuchNetworkError,
      );
      expect(Object.keys((await engine.containers.inspect(id)).networks)).not.toContain(
        `${run}-nowhere`,
      );
    });

    describe('with a local registry (htpasswd)', () => {
      let registry: Registry;
      let repository: string;
      let pushedDigest: string;

      beforeAll(async () => {
        registry = await startRegistry({ netns: dockerd.netns });
        repository = `${registry.host}/flotilla/busybox`;
        await engine.images.tag(IMAGE, `${repository}:1`);
        pushedDigest = await engine.images.push(`${repository}:1`, {
          auth: { username: registry.username, password: registry.password },
        });
        await engine.images.remove(`${repository}:1`);
      }, 60_000);

      afterAll(async () => {
        await registry?.stop();
      });

      it('pulls with credentials, with progress, to the digest it pushed', async () => {
        await expect(engine.images.inspect(`${repository}:1`)).rejects.toBeInstanceOf(
          NoSuchImageError,
        );
        const progress: TransferProgress[] = [];
        const pulled = await engine.images.pull(`${repository}:1`, {
          auth: { username: registry.username, password: registry.password },
          onProgress: (line) => progress.push(line),
        });
        expect(pulled.digest).toBe(pushedDigest);
        expect(pulled.image.id).toBe(imageId);
        expect(pulled.image.repoDigests).toContain(`${repository}@${pushedDigest}`);
        expect(progress.map((line) => line.status)).toContain(`Digest: ${pushedDigest}`);

        const resolved = await engine.images.resolveDigest(`${repository}:1`, {
          auth: { username: registry.username, password: registry.password },
        });
        expect(resolved).toBe(pushedDigest);
      });

      it('gives RegistryUnauthorizedError with a hint and no password for wrong or missing credentials', async () => {
        const wrong = 'not-the-password-4711';
        for (const auth of [{ username: registry.username, password: wrong }, undefined]) {
          const error = await engine.images
            .pull(`${repository}:1`, { auth })
            .catch((caught: unknown) => caught);
          expect(error).toBeInstanceOf(RegistryUnauthorizedError);
          const { message, hint, engineMessage } = error as RegistryUnauthorizedError;
          expect(hint).toContain(`registries."${registry.host}"`);
          expect(
            `${message} ${hint} ${engineMessage} ${String((error as Error).stack)}`,
          ).not.toContain(wrong);
          expect(`${message} ${hint} ${engineMessage}`).not.toContain(registry.password);
        }
      });

      it('gives ImageTagNotFoundError for a tag the registry does not have', async () => {
        const error = await engine.images
          .pull(`${repository}:missing`, {
            auth: { username: registry.username, password: registry.password },
          })
          .catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(ImageTagNotFoundError);
        expect((error as ImageTagNotFoundError).message).toContain('missing');
      });

      it('gives RegistryUnreachableError for a registry nobody listens on', async () => {
        const error = await engine.images
          .pull('127.0.0.1:9/flotilla/busybox:1')
          .catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(RegistryUnreachableError);
      });
    });
  },
);
