// Registry credentials travel to the engine in the X-Registry-Auth header, and the engine
// relays what the registry said when a pull or push fails. This file encodes the first and
// turns the second into typed errors with hints, never carrying a password into a message.
import {
  type EngineError,
  ImageTagNotFoundError,
  ImageTransferError,
  redact,
  RegistryUnauthorizedError,
  RegistryUnreachableError,
} from './errors.ts';
import { parseImageReference } from './image-reference.ts';

export interface RegistryAuth {
  username: string;
  password: string;
  /** The registry host the credentials are for; defaults to the image's registry. */
  serverAddress?: string;
}

/**
 * The X-Registry-Auth header: base64url of the credentials' JSON, WITH padding. The engine
 * decodes it with Go's padded URL alphabet and, for a pull, treats an undecodable header as
 * "no credentials" without saying so: unpadded base64url would silently drop the password.
 */
export function registryAuthHeader(auth: RegistryAuth | undefined, reference: string): string {
  const body =
    auth === undefined
      ? {}
      : {
          username: auth.username,
          password: auth.password,
          serveraddress: auth.serverAddress ?? parseImageReference(reference).registry,
        };
  return Buffer.from(JSON.stringify(body))
    .toString('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
}

/** What must never appear in an error: the password and the header that carries it. */
export function authSecrets(auth: RegistryAuth | undefined, header: string): string[] {
  return auth === undefined ? [] : [auth.password, header];
}

const MANIFEST_UNKNOWN =
  /manifest unknown|manifest for \S+ not found|not found: manifest|repository name not known|name unknown/i;
const UNAUTHORIZED =
  /unauthorized|authentication required|no basic auth credentials|incorrect username or password|denied/i;
const UNREACHABLE =
  /dial tcp|connection refused|no such host|i\/o timeout|TLS handshake|x509|certificate|HTTP response to HTTPS client|network is unreachable|Client\.Timeout|deadline exceeded/i;

/** A registry failure relayed by the engine, as the typed error a caller can act on. */
export function registryFailure(
  action: 'pull' | 'push' | 'resolve',
  reference: string,
  rawMessage: string,
  options: { statusCode?: number; secrets?: readonly string[] } = {},
): EngineError {
  const message = redact(rawMessage, options.secrets ?? []);
  const { registry, repository, tag, digest } = parseImageReference(reference);
  const common = { engineMessage: message, statusCode: options.statusCode };
  const verb = action === 'resolve' ? 'resolve' : action;
  if (MANIFEST_UNKNOWN.test(message)) {
    return new ImageTagNotFoundError(
      `cannot ${verb} ${reference}: ${registry} has no ${digest ?? `tag ${tag ?? 'latest'}`} of ${repository}`,
      { ...common, hint: `check the image's name and tag (the registry said: ${message})` },
    );
  }
  if (UNAUTHORIZED.test(message)) {
    return new RegistryUnauthorizedError(
      `cannot ${verb} ${reference}: ${registry} refused the credentials, or wants some`,
      {
        ...common,
        hint:
          `check registries."${registry}" in the stack file (username, and the password's secret); ` +
          `a registry also answers this way for a repository that does not exist (it said: ${message})`,
      },
    );
  }
  if (UNREACHABLE.test(message)) {
    return new RegistryUnreachableError(`cannot ${verb} ${reference}: ${registry} is unreachable`, {
      ...common,
      hint: /HTTP response to HTTPS client/i.test(message)
        ? `${registry} speaks plain HTTP: serve it over HTTPS, or list it in dockerd's insecure-registries`
        : `check the registry's host name, this node's DNS and its outbound HTTPS (the engine said: ${message})`,
    });
  }
  return new ImageTransferError(`cannot ${verb} ${reference}: ${message}`, {
    ...common,
    hint: /invalid reference format/i.test(message)
      ? 'an image is name[:tag][@sha256:digest] in lowercase, e.g. ghcr.io/acme/api:1.4'
      : 'see the registry’s message above; retry if it was a passing failure',
  });
}
