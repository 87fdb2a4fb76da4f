// An image service whose stack declares no `health:` takes its image's own HEALTHCHECK as
// its health, as the engine runs it: not healthy before the check passes, healthy once it
// does, unhealthy (with the check's output) when it fails again; an image without one is
// healthy once running. Real dockerd, images built with a HEALTHCHECK instruction.
import { describe, expect, it } from 'vitest';
import type { Reconciler } from '../../../src/agent/reconciler.ts';
import type { InstanceStatus } from '../../../src/protocol/status.ts';
import { buildTestImage } from '../../helpers/test-image.ts';
import { ALONE as context, containerReconciler, imageInstance, useFixture } from './fixture.ts';

const CHECKED = 'flotilla-test/busybox-healthcheck:1';
describe.skipIf(process.getuid?.() !== 0)(
  "an image's own HEALTHCHECK as the instance's health",
  { timeout: 90_000 },
  () => {
    const fixture = useFixture();

    const reconciler = () => containerReconciler(fixture());

    /** The instance's status once `accept` holds for it (bounded: 30 s). */
    async function until(
      running: Reconciler,
      accept: (status: InstanceStatus) => boolean,
    ): Promise<InstanceStatus> {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const [status] = running.instances();
        if ((status && accept(status)) || Date.now() > deadline) return status!;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    it('is unhealthy until the check passes, healthy after, and unhealthy with its output when it fails', async () => {
      await buildTestImage(fixture().dockerd.engine, {
        reference: CHECKED,
        changes: [
          'HEALTHCHECK --interval=1s --retries=1 CMD test -f /tmp/ready || (echo no ready file; exit 1)',
        ],
      });
      const running = reconciler();
      await running.reconcile(
        [
          imageInstance('checked-1', {
            runtime: {
              image: CHECKED,
              command: ['sh', '-c', 'sleep 3; touch /tmp/ready; exec sleep 3600'],
            },
          }),
        ],
        context,
      );
      const [started] = running.instances();
      expect(started).toMatchObject({ state: 'running', healthy: false });
      const healthy = await until(running, (status) => status.healthy);
      expect(healthy).toMatchObject({
        healthy: true,
        health_detail: "the image's HEALTHCHECK passes",
      });

      const id = healthy.container!.id;
      await fixture().dockerd.engine.exec.run(id, { cmd: ['rm', '/tmp/ready'] });
      const failing = await until(running, (status) => !status.healthy);
      expect(failing.healthy).toBe(false);
      expect(failing.health_detail).toBe("the image's HEALTHCHECK fails: no ready file");
      await running.stopAll({});
    });

    it('is healthy once running when the image has no HEALTHCHECK', async () => {
      const running = reconciler();
      await running.reconcile([imageInstance('plain-1')], context);
      const status = await until(running, (candidate) => candidate.healthy);
      expect(status).toMatchObject({ state: 'running', healthy: true });
      await running.stopAll({});
    });
  },
);
