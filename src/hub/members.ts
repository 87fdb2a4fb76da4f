// The nodes that have joined the cluster, as the hub remembers them: each node's WireGuard
// public key and public endpoint (for everyone's peer lists) and its age recipient (what its
// secrets are sealed to), and its state dir (where its services' data goes). Kept on disk so
// a restarted hub knows its cluster without rejoins.
import path from 'node:path';
import { z } from 'zod';
import { isWireGuardKey } from '../mesh/keys.ts';
import { ipAddressSchema } from '../spec/formats.ts';
import { readPrivateJson, writePrivateJson } from '../state/private-json.ts';

export const memberSchema = z.object({
  wireguard_key: z.string().refine(isWireGuardKey, 'a WireGuard public key'),
  /** The node's public address, where peers send its WireGuard traffic. */
  endpoint: ipAddressSchema,
  /** The node's age recipient. */
  recipient: z.string().startsWith('age1'),
  /** The agent's state dir; absent for members saved before agents sent it. */
  state_dir: z.string().optional(),
  joined_at: z.string(),
});
export type Member = z.infer<typeof memberSchema>;

const fileSchema = z.object({ members: z.record(z.string(), memberSchema) });

export class Members {
  private constructor(
    private readonly file: string,
    private readonly members: Map<string, Member>,
  ) {}

  static async open(hubDir: string): Promise<Members> {
    const file = path.join(hubDir, 'members.json');
    const saved = await readPrivateJson(file, fileSchema);
    return new Members(file, new Map(Object.entries(saved?.members ?? {})));
  }

  get(node: string): Member | undefined {
    return this.members.get(node);
  }

  nodes(): string[] {
    return [...this.members.keys()].sort();
  }

  entries(): [string, Member][] {
    return [...this.members.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  }

  async set(node: string, member: Member): Promise<void> {
    this.members.set(node, member);
    await this.save();
  }

  async remove(node: string): Promise<boolean> {
    if (!this.members.delete(node)) return false;
    await this.save();
    return true;
  }

  private async save(): Promise<void> {
    await writePrivateJson(this.file, { members: Object.fromEntries(this.entries()) });
  }
}
