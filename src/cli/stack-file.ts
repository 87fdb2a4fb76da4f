// Loading the stack file for a command: report every problem and exit 1, never a stack trace.
import os from 'node:os';
import path from 'node:path';
import { formatDiagnostic } from '../spec/diagnostic.ts';
import { loadStackFile } from '../spec/load.ts';
import type { Stack } from '../spec/schema.ts';
import { validateStack } from '../spec/validate.ts';
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
 * What the command needs of this machine's secret store: every `${secret:NAME}` set
 * (`required`: it runs the stack), only a note of those unset (`warn`: it only reads the
 * file, as in CI or on a laptop), or nothing (`skip`: it manages the secrets itself).
 */
export type SecretsNeeded = 'required' | 'warn' | 'skip';

/** Loads and validates the stack file, reporting every problem at its line and column. */
export async function loadStackOrReport(
  file: string | undefined,
  output: Output,
  options: { secrets?: SecretsNeeded } = {},
): Promise<LoadedStack | undefined> {
  const chosen = file ?? process.env.FLOTILLA_FILE ?? DEFAULT_STACK_FILE;
  const needed = options.secrets ?? 'required';
  let result = await loadStackFile(chosen);
  let unset: string[] = [];
  if (result.ok && needed !== 'skip' && referencesSecrets(result.stack)) {
    // Imported here: the store brings age's cryptography, which a stack without secrets
    // (and every command's start) can do without.
    const { SecretStore } = await import('../secrets/store.ts');
    const knownSecrets = await SecretStore.namesIn(stateDirFor(result.stack.name));
    const checked = await loadStackFile(chosen, { knownSecrets });
    if (needed === 'warn' && !checked.ok) {
      unset = [...new Set(checked.diagnostics.flatMap((d) => d.unsetSecret ?? []))].sort();
      const others = checked.diagnostics.filter((d) => d.unsetSecret === undefined);
      if (others.length > 0) result = { ok: false, diagnostics: others };
    } else result = checked;
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
  if (unset.length > 0) {
    // Once per secret, however often it is used: a file checked without its secrets is fine.
    writeLine(
      output.err,
      `${output.color.yellow('warning:')} ${unset.length} secret${unset.length === 1 ? ' is' : 's are'} not set on this machine: ${unset.join(', ')} (up and apply need ${unset.length === 1 ? 'it' : 'them'})`,
    );
    writeLine(
      output.err,
      `  hint: printf %s "$VALUE" | flotilla secrets set NAME -f ${chosen}, for each; or flotilla secrets import .env -f ${chosen}`,
    );
  }
  const dir = path.dirname(path.resolve(chosen));
  return { stack: result.stack, file: chosen, dir, stateDir: stateDirFor(result.stack.name) };
}

/**
 * Whether any `${secret:NAME}` in a valid stack is checked against the store: with no name
 * known, each one is reported. Without any, the store's names cannot change the result.
 */
function referencesSecrets(stack: Stack): boolean {
  const findings = validateStack(stack, { knownSecrets: new Set() });
  return findings.some((finding) => finding.unsetSecret !== undefined);
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
