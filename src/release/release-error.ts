// A release bundle that cannot be made or cannot be trusted, said so a person can act on it:
// one line saying what is wrong and, where we know it, a hint. `flotilla deploy` prints both
// and exits 1; the agent reports both as the deploy step that failed.
export class ReleaseError extends Error {
  override name = 'ReleaseError';

  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}
