// The SSH layer's errors share one base: each is a situation the user can fix (a mistyped
// target, an unknown host key, a refused key), shown by the CLI as a message and a hint.

/** An SSH problem the user can act on: shown as a message and a hint, exit 1. */
export class SshError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
