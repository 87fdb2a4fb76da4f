// `flotilla import compose|pm2 FILE`: a docker-compose.yml or a PM2 ecosystem file → a
// stack file, checked by the same loader as `validate`. The stack goes to stdout (or -o,
// never over an existing file without --force) and the report of what did not carry
// over to stderr. A file that cannot be imported is an error at its file:line:col (exit 1).
import path from 'node:path';
import { importCompose } from '../../import/compose/import-compose.ts';
import { ImportError, ImportProblems } from '../../import/errors.ts';
import { importPm2 } from '../../import/pm2/import-pm2.ts';
import { formatPos, formatReport } from '../../import/report.ts';
import type { ImportResult } from '../../import/stack-draft.ts';
import { writeStackFile } from '../../import/write-stack.ts';
import { NAME } from '../../spec/schema.ts';
import type { CommandSpec } from '../command.ts';
import { writeLine, type Output } from '../output.ts';
import { UsageError } from '../usage.ts';

const USAGE = `flotilla import compose FILE [-o flotilla.yml] [--name STACK] [--profile NAME]... [--force]
       flotilla import pm2 FILE [-o flotilla.yml] [--name STACK] [--env NAME] [--force]`;

export const importCommand: CommandSpec = {
  usage: USAGE,
  options: {
    output: { type: 'string', short: 'o' },
    name: { type: 'string' },
    profile: { type: 'string', multiple: true },
    env: { type: 'string' },
    force: { type: 'boolean' },
  },
  positionals: { verbs: { compose: ['FILE'], pm2: ['FILE'] } },
  async run({ values, positionals }, output: Output) {
    const [verb, file] = positionals as ['compose' | 'pm2', string];
    const outputFile = values.output as string | undefined;
    const name = values.name as string | undefined;
    const profiles = (values.profile as string[] | undefined) ?? [];
    const envName = values.env as string | undefined;
    if (name !== undefined && !NAME.test(name))
      throw new UsageError(
        `--name ${name} is not a stack name`,
        'lowercase letters, digits and hyphens, starting with a letter',
      );
    if (verb === 'compose' && envName !== undefined)
      throw new UsageError(
        '--env is for `import pm2` (env_<NAME> of an ecosystem file)',
        'Compose files read the environment and the .env beside them',
      );
    if (verb === 'pm2' && profiles.length > 0)
      throw new UsageError('--profile is for `import compose`');
    if (values.force && outputFile === undefined)
      throw new UsageError('--force replaces the -o file: give -o');
    let result: ImportResult;
    try {
      result =
        verb === 'compose'
          ? await importCompose({
              file,
              output: outputFile,
              name,
              profiles,
              environment: process.env,
            })
          : await importPm2({ file, output: outputFile, name, env: envName });
      if (outputFile !== undefined)
        await writeStackFile(outputFile, result.text, values.force === true);
    } catch (error) {
      return reportFailure(error, output);
    }
    const report = formatReport(result.report, output.color.isColorSupported);
    if (report !== '') writeLine(output.err, report);
    if (outputFile === undefined) output.out.write(result.text);
    const services = Object.keys(result.stack.services).length;
    const summary = [
      `${services} service${services === 1 ? '' : 's'}`,
      `${result.report.count('left-out')} left out`,
      `${result.report.count('untranslated')} not translated`,
      `${result.report.count('suggestion')} suggested route${result.report.count('suggestion') === 1 ? '' : 's'}`,
      `${result.report.secrets.size} secret${result.report.secrets.size === 1 ? '' : 's'} to set`,
    ].join(', ');
    const where = outputFile === undefined ? '' : ` → ${path.normalize(outputFile)}`;
    writeLine(output.err, `${output.color.green('✓')} imported ${file}${where}: ${summary}`);
    return 0;
  },
};

function reportFailure(error: unknown, output: Output): number {
  const problems =
    error instanceof ImportProblems
      ? error.problems
      : error instanceof ImportError
        ? [error]
        : undefined;
  if (problems === undefined) throw error;
  for (const problem of problems) {
    writeLine(
      output.err,
      problem.at === undefined
        ? `flotilla import: ${problem.message}`
        : `${output.color.bold(formatPos(problem.at))} ${output.color.red('error')} ${problem.message}`,
    );
    if (problem.hint !== undefined)
      writeLine(output.err, `  ${output.color.cyan('hint:')} ${problem.hint}`);
  }
  if (error instanceof ImportProblems) writeLine(output.err, output.color.red(error.message));
  return 1;
}
