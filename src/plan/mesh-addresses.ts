// Mesh addresses for nodes: pinned ones first, then the next free address of mesh.cidr in
// declaration order. The hub persists what it hands out; plan reproduces it from the file.
import { formatIPv4, parseCidr, parseIPv4 } from '../spec/formats.ts';
import type { Stack } from '../spec/schema.ts';

export class MeshExhaustedError extends Error {}

export function allocateMeshAddresses(stack: Stack): Record<string, string> {
  const block = parseCidr(stack.mesh.cidr);
  if (!block) throw new Error(`mesh.cidr ${stack.mesh.cidr} was not validated`);
  const taken = new Set<number>();
  const result: Record<string, string> = {};
  for (const [name, node] of Object.entries(stack.nodes)) {
    const pinned = node.mesh_address === undefined ? undefined : parseIPv4(node.mesh_address);
    if (pinned !== undefined) {
      taken.add(pinned);
      result[name] = formatIPv4(pinned);
    }
  }
  let next = block.network + 1;
  const last = block.network + block.size - 2; // keep the broadcast address free
  for (const name of Object.keys(stack.nodes)) {
    if (result[name] !== undefined) continue;
    while (taken.has(next)) next++;
    if (next > last)
      throw new MeshExhaustedError(`mesh.cidr ${stack.mesh.cidr} has no room for node ${name}`);
    result[name] = formatIPv4(next);
    taken.add(next);
  }
  return result;
}
