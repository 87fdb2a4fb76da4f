// Pins every image service to one digest at apply time: the hub asks each image's registry
// which manifest its tag names now and writes `name@sha256:…` into the desired states, so
// every node runs the same bytes even when the tag moves between two nodes' pulls. An image
// the hub cannot resolve (a registry it does not reach, an image built on the node) keeps
// its tag, and the apply says so: nodes then pull or use the tag as before.
import { parseImageReference } from '../container/engine/image-reference.ts';
import {
  DigestLookupError,
  manifestDigest,
  type RegistryCredentials,
} from '../container/registry/manifest-digest.ts';
import type { DesiredNode } from '../plan/desired.ts';
import { references, renderTemplate } from '../spec/interpolation.ts';

export interface ImagePins {
  /** Tag reference → the pinned reference (`name@sha256:…`). */
  pinned: Map<string, string>;
  /** One line per image that keeps its tag, with the reason. */
  unpinned: string[];
}

type SecretValues = (names: Iterable<string>) => Promise<Map<string, string>>;

/** Resolves each distinct image of the desired states once; never throws for a registry. */
export async function resolveImagePins(
  desired: Record<string, DesiredNode>,
  secretValues: SecretValues,
): Promise<ImagePins> {
  const images = new Map<string, { server: string; username: string; password: string } | null>();
  for (const node of Object.values(desired))
    for (const { runtime } of node.instances)
      if (runtime.kind === 'container' && parseImageReference(runtime.image).digest === undefined)
        images.set(runtime.image, runtime.registry_auth ?? null);
  const pins: ImagePins = { pinned: new Map(), unpinned: [] };
  await Promise.all(
    [...images].map(async ([image, auth]) => {
      try {
        const credentials = auth ? await credentialsFor(auth, secretValues) : undefined;
        const digest = await manifestDigest(image, credentials ? { credentials } : {});
        pins.pinned.set(image, `${withoutTag(image)}@${digest}`);
      } catch (error) {
        if (!(error instanceof DigestLookupError)) throw error;
        pins.unpinned.push(`${image} is not pinned: ${error.message} (${error.hint})`);
      }
    }),
  );
  pins.unpinned.sort();
  return pins;
}

/** The desired states with each pinned image's reference replaced. */
export function pinImages(
  desired: Record<string, DesiredNode>,
  pins: ImagePins,
): Record<string, DesiredNode> {
  return Object.fromEntries(
    Object.entries(desired).map(([node, state]) => [
      node,
      {
        ...state,
        instances: state.instances.map((instance) => {
          const { runtime } = instance;
          const pinned = runtime.kind === 'container' && pins.pinned.get(runtime.image);
          return pinned ? { ...instance, runtime: { ...runtime, image: pinned } } : instance;
        }),
      },
    ]),
  );
}

/** `name:tag` → `name`: a pinned reference names the digest alone, so no tag can shadow it. */
function withoutTag(image: string): string {
  const { tag } = parseImageReference(image);
  return tag === undefined ? image : image.slice(0, image.length - tag.length - 1);
}

async function credentialsFor(
  auth: { server: string; username: string; password: string },
  secretValues: SecretValues,
): Promise<RegistryCredentials> {
  const names = [auth.username, auth.password]
    .flatMap(references)
    .flatMap((ref) => (ref.kind === 'secret' ? [ref.name] : []));
  const values = await secretValues(new Set(names));
  const render = (text: string) =>
    renderTemplate(text, (ref) => {
      const value = ref.kind === 'secret' ? values.get(ref.name) : undefined;
      if (value === undefined)
        throw new DigestLookupError(
          `the password of registry ${auth.server} is a secret that is not set`,
          'flotilla secrets set it, then apply again',
        );
      return value;
    });
  return { username: render(auth.username), password: render(auth.password) };
}
