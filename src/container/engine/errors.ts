// What can go wrong talking to the Docker Engine, as one class per failure a caller (the
// container runtime, the CLI) treats differently. Every error carries the engine's own
// message when there is one and a hint a person can act on; a registry password never
// reaches a message (the engine does not echo it, and pull errors are redacted anyway).

export class EngineError extends Error {
  /** The HTTP status the engine answered with; undefined when it never answered. */
  readonly statusCode: number | undefined;
  /** The engine's own `message`, when it gave one. */
  readonly engineMessage: string | undefined;
  readonly hint: string;

  constructor(
    message: string,
    options: { hint: string; statusCode?: number; engineMessage?: string; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    this.statusCode = options.statusCode;
    this.engineMessage = options.engineMessage;
  }
}

/** The socket is missing, refuses connections, or is not ours to open. */
export class EngineUnavailableError extends EngineError {
  constructor(
    readonly socketPath: string,
    cause: NodeJS.ErrnoException,
  ) {
    const reason =
      cause.code === 'ENOENT'
        ? 'does not exist'
        : cause.code === 'ECONNREFUSED'
          ? 'refuses connections'
          : cause.code === 'EACCES'
            ? 'is not open to this user'
            : `failed (${cause.code ?? cause.message})`;
    super(`the Docker Engine socket ${socketPath} ${reason}`, {
      hint:
        cause.code === 'EACCES'
          ? 'run as root (or a member of the socket’s group)'
          : `is dockerd running? Start it (it listens on ${socketPath}) or point Flotilla at its socket`,
      cause,
    });
  }
}

/** The engine answered something this client cannot read (a different API, a proxy). */
export class EngineProtocolError extends EngineError {}

/** A request the engine did not finish in time (its socket went silent). */
export class EngineTimeoutError extends EngineError {}

/** A 404: the container, image, network, volume or exec instance is not there. */
export class EngineNotFoundError extends EngineError {}
export class NoSuchContainerError extends EngineNotFoundError {}
export class NoSuchImageError extends EngineNotFoundError {}
export class NoSuchNetworkError extends EngineNotFoundError {}
export class NoSuchVolumeError extends EngineNotFoundError {}

/** A 409: a name in use, a container not running, a network with endpoints, … */
export class EngineConflictError extends EngineError {}

/** The registry has no manifest for this tag or digest ("manifest unknown"). */
export class ImageTagNotFoundError extends EngineError {}

/** The registry refused the credentials, or wants some and got none. */
export class RegistryUnauthorizedError extends EngineError {}

/** The registry could not be reached (DNS, refused, TLS, timeout). */
export class RegistryUnreachableError extends EngineError {}

/** Any other failed pull or push, including an error reported inside a 200 stream. */
export class ImageTransferError extends EngineError {}

/** An exec ran longer than its timeout; its process was killed. */
export class ExecTimeoutError extends EngineError {}

/** Replaces every secret (a password, an encoded auth header) in a message with `***`. */
export function redact(message: string, secrets: readonly string[]): string {
  let text = message;
  for (const secret of secrets) {
    if (secret.length > 0) text = text.split(secret).join('***');
  }
  return text;
}
