// `down` on a node with containers, through the runtime calls the reconciler makes: every
// instance stopped, then the stack's Docker networks removed. A named volume is never
// removed: its data is there again after down and up.
import { describe, expect, it } from 'vitest';
import type { ContainerSupervisor } from '../../../src/agent/runtime/container-supervisor.ts';
import { imageInstance, useFixture } from './fixture.ts';

describe.skipIf(process.getuid?.() !== 0)(
  'down removes the stack networks, never volumes (real dockerd)',
  { timeout: 90_000 },
  () => {
    const fixture = useFixture();

    it('removes both segment networks and keeps the named volume with its data', async () => {
      const { stack } = fixture();
      const volume = `${stack}-data`;
      const instance = imageInstance('keeper-1', {
        runtime: {
          mounts: [{ type: 'volume', source: volume, target: '/data', read_only: false }],
          networks: [
            { segment: 'front', subnet: '10.213.10.0/24', egress: false },
            { segment: 'back', subnet: '10.213.11.0/24', egress: false },
          ],
        },
      });
      const up = async () => {
        const runtime = fixture().runtime();
        const supervisor = runtime
          .prepare(instance, () => undefined)
          .supervise() as ContainerSupervisor;
        await supervisor.start();
        const exec = (command: string) =>
          runtime.engine.exec.run(supervisor.status.container!.id, { cmd: ['sh', '-c', command] });
        return { runtime, supervisor, exec };
      };
      const engine = fixture().dockerd.engine;
      const stackNetworks = async () =>
        (await engine.networks.list({ 'flotilla.stack': stack })).map((n) => n.name).sort();

      const first = await up();
      expect(await stackNetworks()).toEqual([`flotilla-${stack}-back`, `flotilla-${stack}-front`]);
      expect((await first.exec('echo kept > /data/file')).exitCode).toBe(0);
      // down: what the reconciler does for a stopped stack (its leftovers), then the networks.
      first.supervisor.detach();
      for (const id of await first.runtime.leftovers()) await first.runtime.stopLeftover(id);
      await first.runtime.removeNetworks();
      expect(await stackNetworks()).toEqual([]);
      expect(await engine.containers.list({ 'flotilla.stack': stack })).toEqual([]);
      expect((await engine.volumes.inspect(volume)).name).toBe(volume);

      const second = await up();
      expect((await second.exec('cat /data/file')).stdout).toBe('kept\n');
      await second.supervisor.stop();
      await second.runtime.removeNetworks();
      await engine.volumes.remove(volume);
    });
  },
);
