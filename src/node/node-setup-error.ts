// What `flotilla node add`, `node upgrade` and `node setup` report when a server cannot be set
// up: a message and a hint, exit 1. Nothing that was right is undone by the failure.
export class NodeSetupFailed extends Error {
  override name = 'NodeSetupFailed';

  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}
