// The commands the operator docs tell you to type exist, with the options they show: each
// `flotilla <command> … --option` in a code block of the guides, operations and
// troubleshooting pages is checked against that command's own option list, so a renamed or
// invented flag fails here instead of on a reader's server.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CommandSpec } from '../../src/cli/command.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const commandsDir = path.join(root, 'src/cli/commands');

const pages = [
  'docs/architecture.md',
  'docs/operations.md',
  'docs/troubleshooting.md',
  ...readdirSync(path.join(root, 'docs/guides'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/guides/${name}`),
];

/** Every `flotilla …` invocation in the page's code blocks, as its words. */
function invocations(markdown: string): string[][] {
  const blocks = [...markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((match) => match[1]!);
  const lines = blocks
    .join('\n')
    .replace(/\\\n\s*/g, ' ')
    .split('\n');
  const found: string[][] = [];
  for (const line of lines) {
    const words = line
      .replace(/[`,;()]/g, ' ')
      .split(/\s+/)
      .filter(Boolean);
    words.forEach((word, index) => {
      if (word !== 'flotilla') return;
      const rest = words.slice(index + 1);
      const end = rest.findIndex((next) => ['--', '#', '|', '&&'].includes(next));
      found.push(end === -1 ? rest : rest.slice(0, end));
    });
  }
  return found;
}

async function specOf(command: string): Promise<CommandSpec | undefined> {
  const file = path.join(commandsDir, `${command}.ts`);
  if (!existsSync(file)) return undefined;
  const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  return Object.values(module).find(
    (value): value is CommandSpec =>
      typeof value === 'object' && value !== null && 'usage' in value,
  );
}

/** What is wrong with one invocation, if anything. */
async function problemOf(words: string[]): Promise<string | undefined> {
  const [command, ...rest] = words;
  // `flotilla plan: …` opens a quoted error message, not a command line.
  if (command === undefined || command.endsWith(':')) return undefined;
  const spec = await specOf(command);
  if (!spec) return `no command "${command}"`;
  const longs = new Set(Object.keys(spec.options));
  const shorts = new Set(Object.values(spec.options).map((option) => option.short));
  for (const word of rest) {
    const long = /^--([a-z][a-z-]*)/.exec(word)?.[1];
    if (long !== undefined && !longs.has(long)) return `flotilla ${command} has no --${long}`;
    const short = /^-([a-zA-Z])$/.exec(word)?.[1];
    if (short !== undefined && !shorts.has(short)) return `flotilla ${command} has no -${short}`;
  }
  return undefined;
}

describe('flotilla commands quoted in the operator docs', () => {
  it.each(pages)('%s uses only commands and options that exist', async (page) => {
    const problems: string[] = [];
    for (const words of invocations(readFileSync(path.join(root, page), 'utf8'))) {
      const problem = await problemOf(words);
      if (problem) problems.push(`${problem}: flotilla ${words.join(' ')}`);
    }
    expect(problems).toEqual([]);
  });

  it('catches an option a command does not have, and a command that does not exist', async () => {
    const [line] = invocations('```sh\nflotilla backup restore db --intoo x  # typo\n```\n');
    expect(await problemOf(line!)).toBe('flotilla backup has no --intoo');
    expect(await problemOf(['deploi', 'api'])).toBe('no command "deploi"');
    expect(await problemOf(['backup', 'restore', 'db', '--into', 'db_copy', '--yes'])).toBe(
      undefined,
    );
  });
});
