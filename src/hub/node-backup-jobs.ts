// The backup jobs each node runs: resolved on the hub, where the secrets are, for the node
// where the data lives. A resolved job carries its repository's password and keys, so it
// travels sealed to that node like any secret.
import { jobNames, jobSecretNames, resolveJob, type ResolvedJob } from '../backup/job.ts';
import type { Plan } from '../plan/plan.ts';
import type { SecretStore } from '../secrets/store.ts';
import type { Stack } from '../spec/schema.ts';

export async function backupJobsByNode(
  stack: Stack,
  plan: Plan,
  stackDir: string,
  secrets: SecretStore,
  log: (line: string) => void,
): Promise<Map<string, ResolvedJob[]>> {
  const names = jobNames(stack);
  const byNode = new Map<string, ResolvedJob[]>();
  if (names.length === 0) return byNode;
  const values = await secrets.values(jobSecretNames(stack, names));
  for (const name of names) {
    try {
      const job = resolveJob(stack, plan, name, (secret) => values.get(secret), { stackDir });
      byNode.set(job.node, [...(byNode.get(job.node) ?? []), job]);
    } catch (error) {
      log(`backup job ${name} is not scheduled: ${(error as Error).message}`);
    }
  }
  return byNode;
}
