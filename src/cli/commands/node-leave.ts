// `flotilla node leave [-f flotilla.yml | --state-dir DIR]`: run on a node after `down`, removes
// the mesh interface and firewall table `down` leaves on purpose (src/node/node-leave.ts).
import { meshInterfaceName } from '../../plan/mesh-interface.ts';
import { leaveNode, StackStillUp } from '../../node/node-leave.ts';
import { writeLine, type Output } from '../output.ts';
import type { ParsedArgs } from '../command.ts';
import { loadStackOrReport } from '../stack-file.ts';

export async function runNodeLeave(values: ParsedArgs['values'], output: Output): Promise<number> {
  let stateDir = values['state-dir'] as string | undefined;
  let interfaces: string[] = [];
  if (stateDir === undefined) {
    const loaded = await loadStackOrReport(values.file as string | undefined, output, {
      secrets: 'skip',
    });
    if (!loaded) return 1;
    stateDir = loaded.stateDir;
    // A kernel WireGuard link has no pid file: its name comes from the stack. Tailscale's
    // interface is Tailscale's own, never removed here.
    if (loaded.stack.mesh.provider !== 'tailscale')
      interfaces = Object.keys(loaded.stack.nodes).map((node) =>
        meshInterfaceName(loaded.stack, node),
      );
  }
  try {
    const removed = await leaveNode({
      stateDir,
      interfaces,
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
