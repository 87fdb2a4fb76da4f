// A backup failure a person can act on: one line saying what went wrong and, where we
// know it, a hint. Anything else reaching the CLI is a Flotilla bug.
export class BackupError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}
