// The image an instance runs, made present on this node: used as is when the engine has
// it, else pulled (with the stack's registry credentials, progress to the agent's log).
// A pull that cannot succeed by retrying (no such tag, credentials refused, a bad
// reference) is told apart from a passing failure, so the instance is held as failed at
// once instead of retried.
import {
  type DockerEngine,
  type ImageInfo,
  ImageTagNotFoundError,
  NoSuchImageError,
  RegistryUnauthorizedError,
  type RegistryAuth,
  type EngineError,
  ImageTransferError,
} from '../../../container/engine/index.ts';

/** Per layer, one line per new status ("Downloading", "Pull complete"): not every byte. */
function progressLogger(reference: string, log: (line: string) => void) {
  const seen = new Map<string, string>();
  return ({ id, status }: { id: string | undefined; status: string }) => {
    const key = id ?? '';
    if (seen.get(key) === status || status === 'Downloading' || status === 'Extracting') return;
    seen.set(key, status);
    log(`pull ${reference}: ${id === undefined ? '' : `${id} `}${status}`);
  };
}

export async function ensureImage(
  engine: DockerEngine,
  reference: string,
  auth: RegistryAuth | undefined,
  log: (line: string) => void,
): Promise<ImageInfo> {
  try {
    return await engine.images.inspect(reference);
  } catch (error) {
    if (!(error instanceof NoSuchImageError)) throw error;
  }
  log(`pulling ${reference}`);
  const { image, digest } = await engine.images.pull(reference, {
    ...(auth && { auth }),
    onProgress: progressLogger(reference, log),
  });
  log(`pulled ${reference} (${digest ?? image.id})`);
  return image;
}

/** Retrying would not help: the stack file or the secrets must change first. */
export function permanentPullFailure(error: unknown): error is EngineError {
  return (
    error instanceof ImageTagNotFoundError ||
    error instanceof RegistryUnauthorizedError ||
    error instanceof NoSuchImageError ||
    (error instanceof ImageTransferError && /invalid reference/i.test(error.engineMessage ?? ''))
  );
}
