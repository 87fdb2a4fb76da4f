// The shape every CLI command file exports: its options (node:util parseArgs), the words it
// takes after its name, help text and a run function that returns the exit code.
import type { ParseArgsConfig } from 'node:util';
import type { Output } from './output.ts';
import type { Positionals } from './usage.ts';

export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export interface CommandSpec {
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Checked before `run`: anything else is refused with exit 2 (usage.ts). */
  positionals: Positionals;
  /** May throw a UsageError for bad usage the positionals cannot express (exit 2). */
  run(args: ParsedArgs, output: Output): Promise<number>;
}

/** What `flotilla help` lists; the command itself is imported only when it runs. */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<CommandSpec>;
}
