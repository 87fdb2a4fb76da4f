// The agent's reconciler driving image instances through the container runtime (real
// dockerd): it starts what is desired, a new reconciler after a detach adopts it instead
// of starting it again, an instance no longer desired is stopped and its container gone,
// and stopping everything (`down`) also removes the stack's Docker networks on the node.
import { describe, expect, it } from 'vitest';
import { ALONE as context, containerReconciler, imageInstance, useFixture } from './fixture.ts';

describe.skipIf(process.getuid?.() !== 0)(
  'reconciler with the container runtime',
  { timeout: 90_000 },
  () => {
    const fixture = useFixture();

    const reconciler = () => containerReconciler(fixture());

    it('starts, adopts after a detach, and removes what is no longer desired', async () => {
      const desired = [imageInstance('app-1', { data_dir: `${fixture().dir}/data/app` })];
      const first = reconciler();
      await first.reconcile(desired, context);
      const [started] = first.instances();
      expect(started).toMatchObject({ id: 'app-1', state: 'running', healthy: true });
      // The node's status names the container and the image it runs.
      const [running] = await fixture().dockerd.engine.containers.list({
        'flotilla.instance': 'app-1',
      });
      expect(started!.container).toMatchObject({ id: running!.id, image_id: running!.imageId });
      first.detach();

      const second = reconciler();
      await second.reconcile(desired, context);
      const [adopted] = second.instances();
      expect(adopted).toMatchObject({
        state: 'running',
        pid: started!.pid,
        started_at: started!.started_at,
        container: { id: running!.id },
      });

      await second.reconcile([], context);
      expect(second.instances()).toEqual([]);
      const left = await fixture().dockerd.engine.containers.list({
        'flotilla.stack': fixture().stack,
      });
      expect(left).toEqual([]);
    });

    it('stops everything on down, then removes the stack networks', async () => {
      const engine = fixture().dockerd.engine;
      const networks = async () =>
        (await engine.networks.list({ 'flotilla.stack': fixture().stack })).length;
      const running = reconciler();
      await running.reconcile([imageInstance('down-1')], context);
      expect(running.instances()).toMatchObject([{ id: 'down-1', state: 'running' }]);
      expect(await networks()).toBeGreaterThan(0);
      await running.stopAll({});
      expect(await engine.containers.list({ 'flotilla.stack': fixture().stack })).toEqual([]);
      expect(await networks()).toBe(0);
    });
  },
);
