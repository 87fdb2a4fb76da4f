// Secret files of an image service that runs as a non-root user: the container's user
// reads its secret (the file is that uid's, 0400, when `user:` is numeric; 0444 when it is a
// name only the image knows), and another uid in the same container cannot read a numeric
// user's file. Checked with a real private dockerd and the busybox test image.
import { stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { secretFilePath } from '../../../src/agent/process-spec.ts';
import { imageInstance, startWithSecretFiles, useFixture } from './fixture.ts';

const SECRET = 'user-secret-8b1f07';
const secrets = (name: string) => (name === 'API_KEY' ? SECRET : undefined);

describe.skipIf(process.getuid?.() !== 0)(
  'secret files for a container user that is not root',
  { timeout: 90_000 },
  () => {
    const fixture = useFixture();

    const started = async (id: string, user: string) => {
      const instance = imageInstance(id, {
        secret_files: ['API_KEY'],
        secrets: ['API_KEY'],
        runtime: { user },
      });
      const supervisor = await startWithSecretFiles(fixture(), instance, secrets);
      expect(supervisor.status.state).toBe('running');
      return supervisor;
    };
    const read = (containerId: string, user?: string) =>
      fixture().dockerd.engine.exec.run(containerId, {
        cmd: ['cat', '/run/secrets/API_KEY'],
        ...(user && { user }),
      });

    it('gives a numeric user its own 0400 file, which another uid cannot read', async () => {
      const supervisor = await started('numeric-1', '1000:1000');
      const id = supervisor.status.container!.id;
      expect((await read(id)).stdout).toBe(SECRET);
      const other = await read(id, '2000');
      expect(other.exitCode).not.toBe(0);
      expect(other.stdout).not.toContain(SECRET);
      const info = await stat(secretFilePath(fixture().paths, 'numeric-1', 'API_KEY'));
      expect({ uid: info.uid, mode: info.mode & 0o777 }).toEqual({ uid: 1000, mode: 0o400 });
      await supervisor.stop();
    });

    it("lets a user named in the image's /etc/passwd read its file", async () => {
      const supervisor = await started('named-1', 'nobody');
      expect((await read(supervisor.status.container!.id)).stdout).toBe(SECRET);
      const info = await stat(secretFilePath(fixture().paths, 'named-1', 'API_KEY'));
      expect(info.mode & 0o777).toBe(0o444);
      await supervisor.stop();
    });
  },
);
