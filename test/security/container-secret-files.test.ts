// A secret given to an image service as a file (`secret_files`) reaches the container only
// as a read-only file under /run/secrets: never in what `docker inspect` shows (its Env,
// its command, anything in the engine's raw answer), nor on the command line of any process
// in the container as the host's /proc shows it. Checked for real against a private dockerd.
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { readText } from '../../src/container/engine/transport.ts';
import { imageInstance, startWithSecretFiles, useFixture } from '../agent/container/fixture.ts';

const SECRET = 'file-only-secret-5c2e91ab';

/** The host PIDs of every process in the container (its cgroup names the container id). */
async function containerPids(containerId: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cgroup = await readFile(`/proc/${entry}/cgroup`, 'utf8').catch(() => '');
    if (cgroup.includes(containerId)) pids.push(Number(entry));
  }
  return pids;
}

describe.skipIf(process.getuid?.() !== 0)(
  'secret files of an image service',
  { timeout: 90_000 },
  () => {
    const fixture = useFixture();

    it('never appear in docker inspect nor on a command line in the container', async () => {
      const instance = imageInstance('vault-1', {
        secret_files: ['DB_PASSWORD'],
        secrets: ['DB_PASSWORD'],
        // The service reads its secret from the file, as it should; a child keeps running.
        runtime: { command: ['sh', '-c', 'cat "$DB_PASSWORD_FILE" > /dev/null; exec sleep 3600'] },
      });
      const secrets = (name: string) => (name === 'DB_PASSWORD' ? SECRET : undefined);
      const supervisor = await startWithSecretFiles(fixture(), instance, secrets);
      const id = supervisor.status.container!.id;
      const engine = fixture().dockerd.engine;

      // It is there for the service…
      const read = await engine.exec.run(id, { cmd: ['cat', '/run/secrets/DB_PASSWORD'] });
      expect(read.stdout).toBe(SECRET);

      // …and nowhere in the engine's own description of the container.
      const info = await engine.containers.inspect(id);
      expect(info.config.env).toContain('DB_PASSWORD_FILE=/run/secrets/DB_PASSWORD');
      expect(info.config.env.join('\n')).not.toContain(SECRET);
      const raw = await readText(
        await engine.transport.open({ method: 'GET', path: `/containers/${id}/json` }),
        1 << 20,
        { path: `/containers/${id}/json` },
      );
      expect(raw).toContain('DB_PASSWORD_FILE');
      expect(raw).not.toContain(SECRET);

      // Nor on the command line of any of its processes, as every local user can read them.
      const pids = await containerPids(id);
      expect(pids.length).toBeGreaterThanOrEqual(2); // docker-init and the service
      for (const pid of pids) {
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
        expect(cmdline).not.toContain(SECRET);
        const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
        expect(environ).not.toContain(SECRET);
      }
      await supervisor.stop();
    });
  },
);
