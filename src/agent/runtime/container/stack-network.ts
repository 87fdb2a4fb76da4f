// The stack's network on a node: one user-defined bridge, `flotilla-<stack>`, on which
// each container answers to its service name (Docker's embedded DNS), so containers on one
// node reach each other by name and container port. Its subnet is the engine's choice from
// its address pools (on a VPS those pools are set in dockerd's config, step 2), labelled
// so a network Flotilla did not make is never taken for it.
import {
  type DockerEngine,
  EngineConflictError,
  NoSuchNetworkError,
} from '../../../container/engine/index.ts';
import { LABEL, ownerLabels, stackNetwork } from './container-spec.ts';

export class NetworkOwnershipError extends Error {}

export async function ensureStackNetwork(
  engine: DockerEngine,
  stack: string,
  node: string,
): Promise<void> {
  const name = stackNetwork(stack);
  const labels = ownerLabels(stack, node);
  const owned = async () => {
    const network = await engine.networks.inspect(name);
    if (network.labels[LABEL.stack] !== stack)
      throw new NetworkOwnershipError(
        `a Docker network named ${name} exists but Flotilla did not create it: rename or remove it (docker network rm ${name})`,
      );
  };
  try {
    return await owned();
  } catch (error) {
    if (!(error instanceof NoSuchNetworkError)) throw error;
  }
  try {
    await engine.networks.create({ name, labels });
  } catch (error) {
    // Another supervisor of this stack made it a moment ago.
    if (!(error instanceof EngineConflictError)) throw error;
    await owned();
  }
}
