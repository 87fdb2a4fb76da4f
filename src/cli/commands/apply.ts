// `flotilla apply`: shows what changes, hands the stack file to the running hub, and waits
// until the cluster has converged on it. Only what changed is touched.
import { HubRequestFailed, type HubClient } from '../hub-client.ts';
import type { ApplyResult, InstanceChange } from '../../hub/hub.ts';
import { awaitConvergence, printEndpoints } from '../progress.ts';
import { connectRunningStack } from '../running-stack.ts';
import { writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';
import path from 'node:path';

export const applyCommand: CommandSpec = {
  usage: 'flotilla apply [-f flotilla.yml] [--timeout 120]',
  options: { file: { type: 'string', short: 'f' }, timeout: { type: 'string' } },
  positionals: [],
  async run({ values }, output: Output) {
    const running = await connectRunningStack(values.file as string | undefined, output);
    if (!running) return 1;
    return applyAndReport(
      running.client,
      running.loaded.file,
      output,
      Number(values.timeout ?? 120) * 1000,
    );
  },
};

export async function applyAndReport(
  client: HubClient,
  file: string,
  output: Output,
  timeoutMs: number,
): Promise<number> {
  let changes: InstanceChange[];
  let notes: string[];
  try {
    ({ changes, notes } = await client.post<ApplyResult>('/api/v1/apply', {
      file: path.resolve(file),
    }));
  } catch (error) {
    if (!(error instanceof HubRequestFailed)) throw error;
    writeLine(output.err, `flotilla apply: ${error.message}; nothing was changed`);
    if (Array.isArray(error.details))
      for (const line of error.details) writeLine(output.err, String(line));
    return 1;
  }
  if (changes.length === 0) writeLine(output.out, '  no changes');
  const sign = {
    add: output.color.green('+'),
    remove: output.color.red('-'),
    update: output.color.yellow('~'),
  };
  for (const change of changes)
    writeLine(output.out, `  ${sign[change.change]} ${change.instance} on ${change.node}`);
  for (const note of notes) writeLine(output.out, output.color.yellow(`  ! ${note}`));
  const result = await awaitConvergence(client, output, timeoutMs);
  if (!result.ok) {
    writeLine(output.err, output.color.red(`✗ ${result.reason}`));
    return 1;
  }
  writeLine(output.out, output.color.green('✓ converged'));
  printEndpoints(result.report, output);
  return 0;
}
