// Where the hub reaches each node it set up over SSH: `node add` records the login and the
// verified host key's fingerprint, and `node upgrade` uses both, so an upgrade logs in to the
// very server that was added and refuses one whose key changed.
import path from 'node:path';
import { z } from 'zod';
import { readPrivateJson, writePrivateJson } from '../state/private-json.ts';

const nodeHostSchema = z.object({
  user: z.string(),
  host: z.string(),
  port: z.number().int(),
  host_key: z.string(),
  /** Given to `node add -i`; the agent and ~/.ssh/id_* are tried when absent. */
  identity_file: z.string().optional(),
  address: z.string().optional(),
});
const nodeHostsSchema = z.record(z.string(), nodeHostSchema);

export type NodeHost = z.infer<typeof nodeHostSchema>;

function nodeHostsFile(stateDir: string): string {
  return path.join(stateDir, 'hub', 'node-hosts.json');
}

export async function readNodeHosts(stateDir: string): Promise<Record<string, NodeHost>> {
  return (await readPrivateJson(nodeHostsFile(stateDir), nodeHostsSchema)) ?? {};
}

export async function recordNodeHost(
  stateDir: string,
  node: string,
  host: NodeHost,
): Promise<void> {
  const hosts = await readNodeHosts(stateDir);
  await writePrivateJson(nodeHostsFile(stateDir), { ...hosts, [node]: host });
}
