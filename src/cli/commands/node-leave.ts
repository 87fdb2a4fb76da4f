// `flotilla node leave [-f flotilla.yml | --state-dir DIR]`: run on a node after `down`, removes
// the mesh interface and firewall table `down` leaves on purpose (src/node/node-leave.ts).
import { leaveNode, StackStillUp, stackInterfaceNames } from '../../node/node-leave.ts';
import type { Stack } from '../../spec/schema.ts';
import { writeLine, type Output } from '../output.ts';
import type { ParsedArgs } from '../command.ts';
import { loadStackOrReport } from '../stack-file.ts';

/**
 * The node a `node leave|doctor` run on it is about: `--state-dir` (an agent's), else the
 * stack file's state dir on this machine (the hub node's), with the stack. Undefined: the
 * stack file's problems were reported.
 */
export async function nodeTarget(
  values: ParsedArgs['values'],
  output: Output,
): Promise<{ stateDir: string; stack?: Stack } | undefined> {
  const stateDir = values['state-dir'] as string | undefined;
  if (stateDir !== undefined) return { stateDir };
  const loaded = await loadStackOrReport(values.file as string | undefined, output, {
    secrets: 'skip',
  });
  return loaded && { stateDir: loaded.stateDir, stack: loaded.stack };
}

export async function runNodeLeave(values: ParsedArgs['values'], output: Output): Promise<number> {
  const target = await nodeTarget(values, output);
  if (!target) return 1;
  try {
    const removed = await leaveNode({
      stateDir: target.stateDir,
      // A kernel WireGuard link has no pid file: its name comes from the stack.
      interfaces: target.stack ? stackInterfaceNames(target.stack) : [],
      log: (line) => writeLine(output.err, line),
    });
    if (removed.length === 0)
      writeLine(output.out, 'nothing left: no agent, mesh interface or firewall table here');
    for (const what of removed) writeLine(output.out, `removed ${what}`);
    return 0;
  } catch (error) {
    if (!(error instanceof StackStillUp)) throw error;
    writeLine(output.err, `flotilla node leave: ${error.message}`);
    writeLine(output.err, `hint: ${error.hint}`);
    return 1;
  }
}
