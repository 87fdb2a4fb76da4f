// The `flotilla` command: dispatch to one file per command. User mistakes get a message
// and a hint, never a stack trace; exit 1 for invalid input, 2 for bad usage.
import { parseArgs } from 'node:util';
import type { CommandSpec } from './command.ts';
import { applyCommand } from './commands/apply.ts';
import { daemonCommand } from './commands/daemon.ts';
import { downCommand } from './commands/down.ts';
import { logsCommand } from './commands/logs.ts';
import { planCommand } from './commands/plan.ts';
import { restartCommand } from './commands/restart.ts';
import { statusCommand } from './commands/status.ts';
import { upCommand } from './commands/up.ts';
import { schemaCommand } from './commands/schema.ts';
import { validateCommand } from './commands/validate.ts';
import { terminalOutput, writeLine, type Output } from './output.ts';
import { didYouMean } from '../spec/suggest.ts';

const COMMANDS: CommandSpec[] = [
  validateCommand,
  planCommand,
  upCommand,
  statusCommand,
  logsCommand,
  restartCommand,
  applyCommand,
  downCommand,
  schemaCommand,
  daemonCommand,
];

function help(output: Output): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    `${output.color.bold('flotilla')} — a handful of VPS, one private cloud, one file`,
    '',
    'Usage: flotilla <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    "Run `flotilla <command> --help` for a command's options.",
  ].join('\n');
}

export async function main(argv: string[], output: Output = terminalOutput()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    writeLine(name === undefined ? output.err : output.out, help(output));
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) {
    writeLine(output.err, `flotilla: unknown command "${name}"`);
    writeLine(
      output.err,
      `hint: ${
        didYouMean(
          name,
          COMMANDS.map((candidate) => candidate.name),
        ) ?? 'run `flotilla help` for the list'
      }`,
    );
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    writeLine(output.out, `${command.summary}\n\nUsage: ${command.usage}`);
    return 0;
  }
  let args;
  try {
    args = parseArgs({
      args: rest,
      options: command.options,
      allowPositionals: command.allowPositionals ?? false,
      strict: true,
    });
  } catch (error) {
    writeLine(output.err, `flotilla ${name}: ${(error as Error).message}`);
    writeLine(output.err, `usage: ${command.usage}`);
    return 2;
  }
  try {
    return await command.run(args, output);
  } catch (error) {
    // Reaching here is a Flotilla bug, not a user mistake: say so plainly.
    writeLine(output.err, `flotilla ${name}: internal error: ${(error as Error).message}`);
    writeLine(
      output.err,
      'hint: this is a bug in Flotilla; rerun with FLOTILLA_DEBUG=1 for details and report it',
    );
    if (process.env.FLOTILLA_DEBUG) writeLine(output.err, (error as Error).stack);
    return 70;
  }
}
