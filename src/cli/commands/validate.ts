// `flotilla validate`: every problem in the stack file at once, as file:line:col with a
// hint (exit 1), or a one-line summary of what it declares.
import { loadStackOrReport } from '../stack-file.ts';
import { writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';

export const validateCommand: CommandSpec = {
  usage: 'flotilla validate [-f flotilla.yml]',
  options: { file: { type: 'string', short: 'f' } },
  positionals: [],
  async run({ values }, output: Output) {
    const loaded = await loadStackOrReport(values.file as string | undefined, output, {
      secrets: 'warn',
    });
    if (!loaded) return 1;
    const { stack } = loaded;
    const services = Object.keys(stack.services).length;
    const nodes = Object.keys(stack.nodes).length;
    writeLine(
      output.out,
      `${output.color.green('✓')} ${loaded.file} is valid: stack ${stack.name}, ${services} service${services === 1 ? '' : 's'} on ${nodes} node${nodes === 1 ? '' : 's'}`,
    );
    return 0;
  },
};
