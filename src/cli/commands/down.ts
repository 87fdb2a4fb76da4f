// `flotilla down`: stops every service in reverse dependency order, then the control plane,
// and says what it leaves on purpose on each node (mesh, firewall) and how to remove it.
import { z } from 'zod';
import { leftRunningSchema, leftRunningLines } from '../../node/left-running.ts';
import { readProcStat } from '../../system/proc.ts';
import { readEndpoint } from '../../hub/api-endpoint.ts';
import { connectRunningStack } from '../running-stack.ts';
import { writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';

const DOWN_TIMEOUT_MS = 120_000;

const downAnswerSchema = z.object({ left: z.array(leftRunningSchema) });

export const downCommand: CommandSpec = {
  usage: 'flotilla down [-f flotilla.yml]',
  options: { file: { type: 'string', short: 'f' } },
  positionals: [],
  async run({ values }, output: Output) {
    const running = await connectRunningStack(values.file as string | undefined, output);
    if (!running) return 1;
    const endpoint = await readEndpoint(running.loaded.stateDir);
    // An older hub answers without `left`: nothing to say then.
    const answer = downAnswerSchema.safeParse(await running.client.post('/api/v1/down'));
    const left = answer.success ? answer.data.left : [];
    const deadline = Date.now() + DOWN_TIMEOUT_MS;
    // Done when the daemon removed its endpoint and its process is gone.
    while ((await readEndpoint(running.loaded.stateDir)) || (endpoint && alive(endpoint.pid))) {
      if (Date.now() > deadline) {
        writeLine(output.err, 'flotilla down: the daemon is still stopping after 120s');
        return 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    writeLine(output.out, `stack ${running.loaded.stack.name} is down`);
    for (const line of leftRunningLines(left)) writeLine(output.out, line);
    return 0;
  },
};

/** A zombie has exited: waiting for its parent to reap it must not hold `down` up. */
function alive(pid: number): boolean {
  if (pid === process.pid) return false;
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}
