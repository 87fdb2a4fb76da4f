// The shape every CLI command file exports: its options (node:util parseArgs), help text
// and a run function that returns the exit code.
import type { ParseArgsConfig } from 'node:util';
import type { Output } from './output.ts';

export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export interface CommandSpec {
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  allowPositionals?: boolean;
  run(args: ParsedArgs, output: Output): Promise<number>;
}

/** What `flotilla help` lists; the command itself is imported only when it runs. */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<CommandSpec>;
}
