// `flotilla node doctor [-f flotilla.yml | --state-dir DIR]`: checks this node and prints one
// line per check (ok/warn/fail/skip) with a hint; exit 1 when a check fails.
import { doctorNode } from '../../node/node-doctor.ts';
import { writeLine, type Output } from '../output.ts';
import type { ParsedArgs } from '../command.ts';
import { nodeTarget } from './node-leave.ts';

export async function runNodeDoctor(values: ParsedArgs['values'], output: Output): Promise<number> {
  const target = await nodeTarget(values, output);
  if (!target) return 1;
  const results = await doctorNode(target);
  const paint = {
    ok: output.color.green,
    warn: output.color.yellow,
    fail: output.color.red,
    skip: output.color.dim,
  };
  for (const result of results) {
    writeLine(
      output.out,
      `${paint[result.status](result.status.padEnd(4))}  ${result.check.padEnd(8)}  ${result.detail}`,
    );
    if (result.hint !== undefined) writeLine(output.out, `      hint: ${result.hint}`);
  }
  return results.some((result) => result.status === 'fail') ? 1 : 0;
}
