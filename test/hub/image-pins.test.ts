// Pinning image services to a digest at apply time, against a real registry (Debian's
// docker-registry on loopback, htpasswd auth): the digest the registry reports for a tag is
// what the desired states carry, a moved tag gives a new pin, and what cannot be resolved
// (wrong password, no such tag, no registry) keeps its tag with the reason, never a password.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DigestLookupError,
  manifestDigest,
  parseChallenge,
} from '../../src/container/registry/manifest-digest.ts';
import { pinImages, resolveImagePins } from '../../src/hub/image-pins.ts';
import type { DesiredInstance, DesiredNode } from '../../src/plan/desired.ts';
import { freePort } from '../helpers/ports.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';

const sha256 = (data: Buffer | string) =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Pushes a one-layer image through the Registry API; returns its manifest's digest. */
async function pushImage(registry: Registry, repository: string, tag: string, layerText: string) {
  const authorization = `Basic ${Buffer.from(`${registry.username}:${registry.password}`).toString('base64')}`;
  const base = `http://${registry.host}/v2/${repository}`;
  const upload = async (data: Buffer) => {
    const started = await fetch(`${base}/blobs/uploads/`, {
      method: 'POST',
      headers: { authorization },
    });
    expect(started.status).toBe(202);
    const location = new URL(started.headers.get('location')!, `http://${registry.host}`);
    location.searchParams.set('digest', sha256(data));
    const put = await fetch(location, {
      method: 'PUT',
      headers: { authorization, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(data),
    });
    expect(put.status).toBe(201);
    return { digest: sha256(data), size: data.length };
  };
  const layer = await upload(Buffer.from(layerText));
  const config = await upload(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', ...layer }],
  });
  const put = await fetch(`${base}/manifests/${tag}`, {
    method: 'PUT',
    headers: {
      authorization,
      'content-type': 'application/vnd.docker.distribution.manifest.v2+json',
    },
    body: manifest,
  });
  expect(put.status).toBe(201);
  return sha256(manifest);
}

function imageNode(image: string, password = '${secret:REGISTRY_PASSWORD}'): DesiredNode {
  const server = image.split('/')[0]!;
  const instance = {
    id: 'app-1',
    runtime: {
      kind: 'container',
      image,
      registry_auth: { server, username: 'flotilla', password },
    },
  } as unknown as DesiredInstance;
  return { instances: [instance] } as unknown as DesiredNode;
}

describe('parseChallenge', () => {
  it("reads a Bearer challenge's realm, service and scope", () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull"',
      ),
    ).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:library/redis:pull',
      },
    });
    expect(parseChallenge('Basic realm="flotilla-test"').scheme).toBe('basic');
  });
});

describe('image pins against a real registry', { timeout: 60_000 }, () => {
  let registry: Registry;
  let repository: string;

  beforeAll(async () => {
    registry = await startRegistry();
    repository = `${registry.host}/flotilla/app`;
  }, 30_000);
  afterAll(async () => {
    await registry?.stop();
  });

  it("resolves a tag to the digest of the manifest pushed under it, and follows the tag's moves", async () => {
    const first = await pushImage(registry, 'flotilla/app', '1', 'first layer');
    const credentials = { username: registry.username, password: registry.password };
    expect(await manifestDigest(`${repository}:1`, { credentials })).toBe(first);
    const second = await pushImage(registry, 'flotilla/app', '1', 'second layer');
    expect(second).not.toBe(first);
    expect(await manifestDigest(`${repository}:1`, { credentials })).toBe(second);
    // A reference that already names a digest is its own answer, without asking.
    expect(await manifestDigest(`${repository}@${first}`)).toBe(first);
  });

  it('pins the desired states with the secret password, and names the digest alone', async () => {
    const digest = await pushImage(registry, 'flotilla/app', '2', 'pinned layer');
    const desired = { n1: imageNode(`${repository}:2`) };
    const pins = await resolveImagePins(desired, async (names) => {
      expect([...names]).toEqual(['REGISTRY_PASSWORD']);
      return new Map([['REGISTRY_PASSWORD', registry.password]]);
    });
    expect(pins.unpinned).toEqual([]);
    const pinned = pinImages(desired, pins);
    const runtime = pinned.n1!.instances[0]!.runtime;
    expect(runtime.kind === 'container' && runtime.image).toBe(`${repository}@${digest}`);
    // The input is left as it was.
    expect(desired.n1.instances[0]!.runtime).toMatchObject({ image: `${repository}:2` });
  });

  it('keeps the tag, with the reason and a hint, when the registry refuses or has no such tag', async () => {
    const wrong = 'not-the-password-1234';
    const refused = await resolveImagePins(
      { n1: imageNode(`${repository}:2`) },
      async () => new Map([['REGISTRY_PASSWORD', wrong]]),
    );
    expect(refused.pinned.size).toBe(0);
    expect(refused.unpinned).toEqual([
      expect.stringMatching(/is not pinned: registry .* refused to show .*HTTP 401.*registries:/),
    ]);
    expect(refused.unpinned.join('')).not.toContain(wrong);
    const missing = await resolveImagePins(
      { n1: imageNode(`${repository}:no-such-tag`) },
      async () => new Map([['REGISTRY_PASSWORD', registry.password]]),
    );
    expect(missing.unpinned).toEqual([expect.stringMatching(/has no .*:no-such-tag/)]);
    const unset = await resolveImagePins(
      { n1: imageNode(`${repository}:2`) },
      async () => new Map(),
    );
    expect(unset.unpinned).toEqual([expect.stringMatching(/secret that is not set/)]);
  });

  it('says a registry that does not answer could not be reached', async () => {
    const nowhere = `127.0.0.1:${await freePort()}/flotilla/app:1`;
    const error = await manifestDigest(nowhere).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DigestLookupError);
    expect((error as DigestLookupError).message).toMatch(/could not be reached \(ECONNREFUSED\)/);
  });
});
