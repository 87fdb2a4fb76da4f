// Loading the stack file for a command: report every problem and exit 1, never a stack trace.
import os from 'node:os';
import path from 'node:path';
import { formatDiagnostic } from '../spec/diagnostic.ts';
import { SecretStore } from '../secrets/store.ts';
import { loadStackFile } from '../spec/load.ts';
import type { Stack } from '../spec/schema.ts';
import { writeLine, type Output } from './output.ts';

export const DEFAULT_STACK_FILE = 'flotilla.yml';

export interface LoadedStack {
  stack: Stack;
  file: string;
  /** Directory of the stack file; relative paths in it resolve here. */
  dir: string;
  /** Where Flotilla keeps this stack's state on this machine. */
  stateDir: string;
}

/**
 * Loads and validates the stack file; with `checkSecrets` (the default), every
 * `${secret:NAME}` must exist in this machine's secret store for the stack.
 */
export async function loadStackOrReport(
  file: string | undefined,
  output: Output,
  options: { checkSecrets?: boolean } = {},
): Promise<LoadedStack | undefined> {
  const chosen = file ?? process.env.FLOTILLA_FILE ?? DEFAULT_STACK_FILE;
  let result = await loadStackFile(chosen);
  if (result.ok && options.checkSecrets !== false) {
    const knownSecrets = await SecretStore.namesIn(stateDirFor(result.stack.name));
    result = await loadStackFile(chosen, { knownSecrets });
  }
  if (!result.ok) {
    for (const diagnostic of result.diagnostics)
      writeLine(output.err, formatDiagnostic(diagnostic, output.color.isColorSupported));
    const count = result.diagnostics.length;
    writeLine(
      output.err,
      output.color.red(`${count} problem${count === 1 ? '' : 's'} in ${chosen}`),
    );
    return undefined;
  }
  const dir = path.dirname(path.resolve(chosen));
  return { stack: result.stack, file: chosen, dir, stateDir: stateDirFor(result.stack.name) };
}

/**
 * Where a stack's state lives on this machine: FLOTILLA_STATE_DIR when set, otherwise
 * /var/lib/flotilla/<stack> for root (readable by service users such as postgres, unlike
 * a clone under /root) or the XDG state directory for anyone else.
 */
export function stateDirFor(stackName: string): string {
  const override = process.env.FLOTILLA_STATE_DIR;
  if (override) return path.resolve(override);
  if (process.getuid?.() === 0) return path.join('/var/lib/flotilla', stackName);
  const base = process.env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'flotilla', stackName);
}
