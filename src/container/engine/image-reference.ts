// Image references as the engine resolves them (`name[:tag][@digest]`), so the runtime can
// pick a registry's credentials by host and never asks for a bare name: the pull API takes
// a name without tag as "every tag of this repository".

export const DOCKER_HUB = 'docker.io';

export interface ImageReference {
  /** `docker.io` for Docker Hub, else the first path component: `ghcr.io`, `127.0.0.1:5000`. */
  registry: string;
  /** The repository within the registry: `library/postgres`, `acme/api`. */
  repository: string;
  tag: string | undefined;
  /** `sha256:…` when the reference pins one. */
  digest: string | undefined;
}

export function parseImageReference(reference: string): ImageReference {
  const at = reference.indexOf('@');
  const named = at < 0 ? reference : reference.slice(0, at);
  const digest = at < 0 ? undefined : reference.slice(at + 1);
  const colon = named.lastIndexOf(':');
  const tagged = colon > named.lastIndexOf('/');
  const name = tagged ? named.slice(0, colon) : named;
  const tag = tagged ? named.slice(colon + 1) : undefined;
  // Docker's rule: the first component is a host when it has a dot or a port, or is localhost.
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const hasHost = /[.:]/.test(first) || first === 'localhost';
  let registry = hasHost ? first : DOCKER_HUB;
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  let repository = hasHost ? name.slice(slash + 1) : name;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  return { registry, repository, tag, digest };
}

/** What to hand the engine to pull exactly one image: `:latest` added when nothing pins it. */
export function pullReference(reference: string): string {
  const { tag, digest } = parseImageReference(reference);
  return tag === undefined && digest === undefined ? `${reference}:latest` : reference;
}
