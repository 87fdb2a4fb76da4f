// `flotilla init [--dir DIR]`: a first, commented flotilla.yml from what the directory
// already has (src/init/). Never replaces an existing flotilla.yml without --force: the
// check happens before anything is read, and the write itself refuses an existing file.
// Says what it found, what it left aside, and the commands to run next.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ImportError, ImportProblems } from '../../import/errors.ts';
import { formatPos, formatReport } from '../../import/report.ts';
import { writeStackFile } from '../../import/write-stack.ts';
import { SCHEMA_FILE } from '../../init/annotate.ts';
import { shownPath } from '../../init/detect.ts';
import { initStack, type InitResult } from '../../init/init-stack.ts';
import { NAME } from '../../spec/schema.ts';
import type { CommandSpec } from '../command.ts';
import { writeLine, type Output } from '../output.ts';
import { UsageError } from '../usage.ts';

class InitError extends Error {
  override readonly name = 'InitError';

  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

async function projectDir(dir: string): Promise<string> {
  const resolved = path.resolve(dir);
  const info = await stat(resolved).catch(() => undefined);
  if (!info?.isDirectory())
    throw new InitError(
      `${dir} is not a directory`,
      'give --dir the directory of the project (the one with package.json or docker-compose.yml)',
    );
  return resolved;
}

export const initCommand: CommandSpec = {
  usage: 'flotilla init [--dir DIR] [--name STACK] [--force]',
  options: {
    dir: { type: 'string' },
    name: { type: 'string' },
    force: { type: 'boolean' },
  },
  positionals: [],
  async run({ values }, output: Output) {
    const name = values.name as string | undefined;
    if (name !== undefined && !NAME.test(name))
      throw new UsageError(
        `--name ${name} is not a stack name`,
        'lowercase letters, digits and hyphens, starting with a letter',
      );
    const dirOption = values.dir as string | undefined;
    const dir = await projectDir(dirOption ?? '.');
    const file = path.join(dir, 'flotilla.yml');
    const shown = shownPath(file);
    const force = values.force === true;
    if (!force && (await stat(file).catch(() => undefined)) !== undefined)
      throw new InitError(
        `${shown} exists: nothing was written`,
        'pass --force to replace it, or edit it and run `flotilla validate`',
      );
    let result: InitResult;
    try {
      result = await initStack({
        dir,
        output: file,
        ...(name === undefined ? {} : { name }),
        environment: process.env,
      });
      await writeStackFile(file, result.text, force);
    } catch (error) {
      throw initFailure(error);
    }
    printSummary(result, shown, output);
    return 0;
  },
};

function printSummary(result: InitResult, shown: string, output: Output): void {
  const { color } = output;
  writeLine(output.out, 'Found:');
  for (const line of result.found) writeLine(output.out, `  ${line}`);
  const report = formatReport(result.report, color.isColorSupported);
  if (report !== '') writeLine(output.out, `\n${report.replace(/^\n+/, '')}`);
  const services = Object.keys(result.stack.services).length;
  writeLine(
    output.out,
    `\n${color.green('✓')} wrote ${shown}: stack ${result.stack.name}, ${services} service${services === 1 ? '' : 's'}; its comments say what each key does and what to change`,
  );
  const file = shown === 'flotilla.yml' ? '' : ` -f ${shown}`;
  const next = [
    ...(result.from === 'none' ? [`edit ${shown} (the example service)`] : []),
    ...[...result.report.secrets.keys()].map((secret) => `flotilla secrets set ${secret}${file}`),
    `flotilla validate${file}`,
    `flotilla plan${file}`,
    `flotilla up${file}`,
  ];
  writeLine(output.out, '\nNext:');
  for (const line of next) writeLine(output.out, `  ${line}`);
  writeLine(
    output.out,
    `\nEditor completion: flotilla schema > ${path.join(path.dirname(shown), SCHEMA_FILE)}`,
  );
}

/**
 * What init could not read or import, as one error main prints (exit 1): each problem at
 * its file:line:col with its hint. Anything else is a bug and goes on up.
 */
function initFailure(error: unknown): unknown {
  const where = (problem: ImportError) =>
    `${problem.at === undefined ? '' : `${formatPos(problem.at)} `}${problem.message}`;
  if (error instanceof ImportError)
    return new InitError(
      where(error),
      error.hint ?? 'fix it, then run init again (docs/import.md says what init reads)',
    );
  if (!(error instanceof ImportProblems)) return error;
  const lines = error.problems.flatMap((problem) => [
    `  ${where(problem)}`,
    ...(problem.hint === undefined ? [] : [`    hint: ${problem.hint}`]),
  ]);
  return new InitError(
    [error.message, ...lines].join('\n'),
    'fix these in the file they point at, then run init again',
  );
}
