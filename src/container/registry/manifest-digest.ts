// Asks an image's registry which manifest a tag names now (its `Docker-Content-Digest`),
// through the Registry HTTP API v2, so the hub can pin every node to the same bytes at
// apply time instead of each node resolving the tag when it happens to pull. Handles the
// registry's auth challenge the way the engine does: Basic, or a Bearer token from the
// realm it names (with the stack's credentials when it has some, anonymous otherwise).
import { z } from 'zod';
import { DOCKER_HUB, parseImageReference } from '../engine/image-reference.ts';

/** Whatever the manifest's kind: a multi-platform index resolves to the index's digest. */
const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const DEFAULT_TIMEOUT_MS = 5_000;

export interface RegistryCredentials {
  username: string;
  password: string;
}

export class DigestLookupError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** The host serving the registry's API: Docker Hub's names differ from its API's. */
function apiBase(registry: string): string {
  if (registry === DOCKER_HUB) return 'https://registry-1.docker.io';
  // As the engine does: a registry on loopback is plain HTTP, any other HTTPS.
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host);
  return `${loopback ? 'http' : 'https'}://${registry}`;
}

const tokenSchema = z.union([
  z.object({ token: z.string().min(1) }),
  z.object({ access_token: z.string().min(1) }),
]);

/** `Bearer realm="…",service="…",scope="…"` → its scheme and parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  for (const match of header.slice(space + 1).matchAll(/(\w+)="([^"]*)"/g))
    params[match[1]!.toLowerCase()] = match[2]!;
  return { scheme, params };
}

/**
 * The digest `reference`'s tag names in its registry now. A reference already pinned
 * (`…@sha256:…`) is its own answer. Throws DigestLookupError (message and hint, never a
 * password) when the registry cannot be reached or refuses.
 */
export async function manifestDigest(
  reference: string,
  options: { credentials?: RegistryCredentials; timeoutMs?: number } = {},
): Promise<string> {
  const { registry, repository, tag, digest } = parseImageReference(reference);
  if (digest !== undefined) return digest;
  const url = `${apiBase(registry)}/v2/${repository}/manifests/${tag ?? 'latest'}`;
  const signal = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const head = (authorization?: string) =>
    fetch(url, {
      method: 'HEAD',
      headers: { accept: MANIFEST_TYPES, ...(authorization && { authorization }) },
      signal,
    });
  try {
    let response = await head();
    if (response.status === 401) {
      const authorization = await answerChallenge(
        response.headers.get('www-authenticate') ?? '',
        options.credentials,
        signal,
      );
      if (authorization !== undefined) response = await head(authorization);
    }
    return digestOf(response, reference, registry);
  } catch (error) {
    if (error instanceof DigestLookupError) throw error;
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    throw new DigestLookupError(
      `registry ${registry} could not be reached (${cause ?? (error as Error).message})`,
      'check the image name and that this hub reaches the registry; nodes then pull the tag themselves',
    );
  }
}

async function answerChallenge(
  header: string,
  credentials: RegistryCredentials | undefined,
  signal: AbortSignal,
): Promise<string | undefined> {
  const { scheme, params } = parseChallenge(header);
  const basic =
    credentials &&
    `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  if (scheme === 'basic') return basic;
  if (scheme !== 'bearer' || params.realm === undefined) return undefined;
  const realm = new URL(params.realm);
  if (params.service !== undefined) realm.searchParams.set('service', params.service);
  if (params.scope !== undefined) realm.searchParams.set('scope', params.scope);
  const response = await fetch(realm, { headers: basic ? { authorization: basic } : {}, signal });
  if (!response.ok) return undefined;
  const token = tokenSchema.safeParse(await response.json().catch(() => undefined));
  if (!token.success) return undefined;
  return `Bearer ${'token' in token.data ? token.data.token : token.data.access_token}`;
}

function digestOf(response: Response, reference: string, registry: string): string {
  if (response.status === 401 || response.status === 403)
    throw new DigestLookupError(
      `registry ${registry} refused to show ${reference} (HTTP ${response.status})`,
      `set its credentials under registries: ${registry} in the stack file, with the password as a secret`,
    );
  if (response.status === 404)
    throw new DigestLookupError(
      `registry ${registry} has no ${reference}`,
      'check the image name and tag (is it pushed?)',
    );
  const digest = response.headers.get('docker-content-digest') ?? '';
  if (!response.ok || !DIGEST.test(digest))
    throw new DigestLookupError(
      `registry ${registry} gave no digest for ${reference} (HTTP ${response.status})`,
      'a registry implementing the Docker Registry HTTP API v2 answers with Docker-Content-Digest',
    );
  return digest;
}
