// What a release bundle leaves out: dependencies the node installs itself (`node_modules`),
// history (`.git`), local secrets (`.env`, `.env.*`) at any depth, and the patterns of the
// app's root `.flotillaignore`. That file speaks a subset of gitignore, so a team can copy
// lines from the `.gitignore` it has: comments, blank lines, `dir/`, `*.log`, `/anchored`,
// `**`. A `!negation` is refused rather than ignored: silently bundling a file someone meant
// to keep out (or the reverse) is worse than asking them to say it another way.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ReleaseError } from './release-error.ts';

export const IGNORE_FILE = '.flotillaignore';

/** Left out at any depth, whatever `.flotillaignore` says. */
const ALWAYS_IGNORED = /^(?:node_modules|\.git|\.env|\.env\..*)$/s;

export interface IgnoreRules {
  /** `relativePath` uses `/` and has no leading `/`; a directory left out takes its contents with it. */
  ignores(relativePath: string, isDirectory: boolean): boolean;
}

interface Pattern {
  regex: RegExp;
  /** No `/` but a trailing one: matches an entry's name at any depth. */
  anyDepth: boolean;
  directoryOnly: boolean;
}

/** The rules of the app in `dir`: the built-in ones plus its `.flotillaignore`, when present. */
export async function loadIgnoreRules(dir: string): Promise<IgnoreRules> {
  const file = path.join(dir, IGNORE_FILE);
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ReleaseError(
        `cannot read ${file}: ${(error as Error).message}`,
        `${IGNORE_FILE} must be a readable text file`,
      );
    }
  }
  return parseIgnoreRules(text, file);
}

/** `file` names the source in errors (`file:line:col`). */
export function parseIgnoreRules(text: string, file: string): IgnoreRules {
  const patterns: Pattern[] = [];
  text.split('\n').forEach((raw, index) => {
    const pattern = parseLine(raw.replace(/\r$/, ''), `${file}:${index + 1}`);
    if (pattern) patterns.push(pattern);
  });
  return {
    ignores(relativePath, isDirectory) {
      const name = relativePath.slice(relativePath.lastIndexOf('/') + 1);
      if (ALWAYS_IGNORED.test(name)) return true;
      return patterns.some(
        (pattern) =>
          (isDirectory || !pattern.directoryOnly) &&
          pattern.regex.test(pattern.anyDepth ? name : relativePath),
      );
    },
  };
}

function parseLine(raw: string, where: string): Pattern | undefined {
  // Trailing blanks are dropped (as git does) unless the last one is escaped.
  let line = raw.replace(/(?<!\\)[ \t]+$/, '');
  if (line === '' || line.startsWith('#')) return undefined;
  if (line.startsWith('!')) {
    throw new ReleaseError(
      `${where}:1: "${line}": negation (!) is not supported in ${IGNORE_FILE}`,
      `list only what to leave out; to keep ${line.slice(1)}, narrow the pattern that matches it (or write \\! for a name that starts with "!")`,
    );
  }
  const directoryOnly = line.endsWith('/');
  if (directoryOnly) line = line.replace(/\/+$/, '');
  const anyDepth = !line.includes('/');
  const anchor = line.startsWith('/') ? 1 : 0;
  line = line.slice(anchor);
  if (line === '') return undefined;
  const source = toRegexSource(line, where, anchor);
  return { regex: new RegExp(`^${source}$`, 's'), anyDepth, directoryOnly };
}

/**
 * One gitignore glob (without its trailing `/`) as a regular expression over a relative
 * path; `skipped` characters were cut from the front of the line (columns in errors).
 */
function toRegexSource(glob: string, where: string, skipped: number): string {
  let source = '';
  for (let index = 0; index < glob.length; index++) {
    const char = glob[index]!;
    const column = skipped + index + 1;
    if (char === '*' && glob[index + 1] === '*' && isSegmentBoundary(glob, index, index + 2)) {
      // `**/` any number of directories (none too); a final `/**` everything inside.
      if (glob[index + 2] === '/') {
        source += '(?:.*/)?';
        index += 2;
      } else {
        source += '.*';
        index += 1;
      }
    } else if (char === '*') {
      source += '[^/]*';
      while (glob[index + 1] === '*') index++;
    } else if (char === '?') {
      source += '[^/]';
    } else if (char === '[') {
      const end = glob.indexOf(']', index + 2);
      if (end === -1) {
        throw new ReleaseError(
          `${where}:${column}: "${glob}": "[" opens a character class that never closes`,
          'close it with "]", or write \\[ for a literal bracket',
        );
      }
      let members = glob.slice(index + 1, end);
      const negated = members.startsWith('!') || members.startsWith('^');
      if (negated) members = members.slice(1);
      source += `[${negated ? '^/' : ''}${members.replace(/[\\\]^]/g, '\\$&')}]`;
      index = end;
    } else if (char === '\\') {
      const next = glob[index + 1];
      if (next === undefined) {
        throw new ReleaseError(
          `${where}:${column}: "${glob}": a pattern cannot end with "\\"`,
          'remove it, or write \\\\ for a literal backslash',
        );
      }
      source += escapeRegex(next);
      index++;
    } else {
      source += escapeRegex(char);
    }
  }
  return source;
}

/** `**` is special only as a whole path segment (`**`, `a/**`, `**` + `/b`); otherwise it is `*`. */
function isSegmentBoundary(glob: string, start: number, end: number): boolean {
  return (start === 0 || glob[start - 1] === '/') && (end === glob.length || glob[end] === '/');
}

function escapeRegex(char: string): string {
  return char.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
