// Images the runtime pulls: from a local docker-registry with htpasswd (in dockerd's
// namespace), with the stack's credentials rendered from secrets; a refused password holds
// the instance as failed at once with the typed error's message, which never holds it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerSupervisor } from '../../../src/agent/runtime/container-supervisor.ts';
import { type Registry, startRegistry } from '../../helpers/registry.ts';
import { IMAGE, imageInstance, next, startFixture, type Fixture } from './fixture.ts';

describe.skipIf(process.getuid?.() !== 0)(
  'container runtime: image pulls (real registry)',
  { timeout: 90_000 },
  () => {
    let fixture: Fixture;
    let registry: Registry;
    let repository: string;

    beforeAll(async () => {
      fixture = await startFixture();
      const engine = fixture.dockerd.engine;
      registry = await startRegistry({ netns: fixture.dockerd.netns! });
      repository = `${registry.host}/flotilla/busybox`;
      const auth = { username: registry.username, password: registry.password };
      for (const tag of ['1', '2']) {
        await engine.images.tag(IMAGE, `${repository}:${tag}`);
        await engine.images.push(`${repository}:${tag}`, { auth });
        await engine.images.remove(`${repository}:${tag}`);
      }
    }, 120_000);

    afterAll(async () => {
      await registry?.stop();
      await fixture?.close();
    }, 60_000);

    /** `tag` is a tag (`1`) or, as the hub pins it, a digest (`@sha256:…`). */
    const pulling = (id: string, tag: string, password: string) =>
      fixture
        .runtime()
        .prepare(
          imageInstance(id, {
            secrets: ['REGISTRY_PASSWORD'],
            runtime: {
              image: tag.startsWith('@') ? `${repository}${tag}` : `${repository}:${tag}`,
              registry_auth: {
                server: registry.host,
                username: registry.username,
                password: '${secret:REGISTRY_PASSWORD}',
              },
            },
          }),
          (name) => (name === 'REGISTRY_PASSWORD' ? password : undefined),
        )
        .supervise() as ContainerSupervisor;

    it('pulls a missing image with the credentials, logs progress, and reports its digest', async () => {
      const supervisor = pulling('pulled-1', '1', registry.password);
      await supervisor.start();
      expect(supervisor.status.state).toBe('running');
      expect(supervisor.status.container?.image_digest).toMatch(
        new RegExp(`^${repository}@sha256:[a-f0-9]{64}$`),
      );
      expect(fixture.lines).toContain(`pulling ${repository}:1`);
      expect(fixture.lines.some((line) => line.startsWith(`pulled ${repository}:1 (sha256:`))).toBe(
        true,
      );
      await supervisor.stop();
    });

    it('fails at once on a refused password, with a message that names the registry and not the password', async () => {
      const wrong = 'not-the-password-7d1e';
      const supervisor = pulling('refused-1', '2', wrong);
      const failed = next(supervisor, 'failed');
      await supervisor.start();
      await failed;
      expect(supervisor.status.state).toBe('failed');
      expect(supervisor.status.restarts).toBe(0);
      expect(supervisor.status.error).toMatch(/refused the credentials/);
      expect(supervisor.status.error).toContain(`registries."${registry.host}"`);
      expect(supervisor.status.error).not.toContain(wrong);
      expect(fixture.lines.join('\n')).not.toContain(wrong);
      await supervisor.stop();
    });

    it('pulls and runs an image pinned by digest, as the hub writes it into desired states', async () => {
      const engine = fixture.dockerd.engine;
      const auth = { username: registry.username, password: registry.password };
      const { image, digest } = await engine.images.pull(`${repository}:2`, { auth });
      expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
      await engine.images.remove(image.id, { force: true });
      const supervisor = pulling('pinned-1', `@${digest!}`, registry.password);
      await supervisor.start();
      expect(supervisor.status.state).toBe('running');
      expect(supervisor.status.container?.image_digest).toBe(`${repository}@${digest!}`);
      expect(fixture.lines).toContain(`pulling ${repository}@${digest!}`);
      await supervisor.stop();
    });

    it('fails at once on a tag the registry does not have', async () => {
      const supervisor = pulling('notag-1', 'nope', registry.password);
      await supervisor.start();
      expect(supervisor.status.state).toBe('failed');
      expect(supervisor.status.error).toMatch(/has no tag nope/);
      await supervisor.stop();
    });
  },
);
