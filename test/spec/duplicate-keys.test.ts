// Duplicate keys are found by the loader's own pass (src/spec/source.ts), not yaml's
// quadratic `uniqueKeys`: it must report exactly what yaml reported, at the repeated key.
// How long 40k keys take against no check at all is bench/stack-file-keys.ts's business.
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadStackFile, parseStackText } from '../../src/spec/load.ts';
import type { Diagnostic } from '../../src/spec/diagnostic.ts';

function duplicates(text: string): Pick<Diagnostic, 'line' | 'col' | 'message'>[] {
  const result = parseStackText(text, 'flotilla.yml');
  if (result.ok) return [];
  return result.diagnostics
    .filter((diagnostic) => diagnostic.message.includes('unique'))
    .map(({ line, col, message }) => ({ line, col, message }));
}

/** Where yaml's own check puts its DUPLICATE_KEY errors (line and column). */
function yamlDuplicates(text: string): [number, number][] {
  const document = parseDocument(text, { uniqueKeys: true });
  return document.errors
    .filter((error) => error.code === 'DUPLICATE_KEY')
    .map((error) => [error.linePos![0].line, error.linePos![0].col]);
}

describe('duplicate keys', () => {
  it('are reported at the repeated key, naming the first one', () => {
    expect(duplicates('name: a\nservices: {}\nname: b\n')).toEqual([
      {
        line: 3,
        col: 1,
        message: 'YAML: map keys must be unique: `name` is already at 1:1',
      },
    ]);
  });

  it.each([
    ['nested block maps', 'name: a\nservices:\n  api:\n    run: { command: [a] }\n    run: x\n'],
    ['flow maps', 'name: a\nservices: { api: { run: { command: [a] }, ports: {}, ports: {} } }\n'],
    ['maps inside lists', 'name: a\nalerts:\n  - { ntfy: { url: "https://n" }, ntfy: {} }\n'],
    ['quoted and plain spellings', 'name: a\n"services": {}\nservices: {}\n'],
    ['three of one key', 'name: a\nx: 1\nx: 2\nx: 3\n'],
  ])('are found in %s where yaml finds them', (_shape, text) => {
    const found = duplicates(text).map(({ line, col }) => [line, col]);
    expect(found.length).toBeGreaterThan(0);
    expect(found).toEqual(yamlDuplicates(text));
  });

  it.each([
    [
      'the same key in two maps',
      'name: a\nservices:\n  a: { run: { command: [a] } }\n  b: { run: { command: [a] } }\n',
    ],
    [
      'a number and a string',
      'name: a\nservices:\n  a:\n    run: { command: [a] }\n    env: { 1: x, "1": y }\n',
    ],
  ])('are not confused with %s', (_shape, text) => {
    expect(duplicates(text)).toEqual([]);
    expect(yamlDuplicates(text)).toEqual([]);
  });

  it('are all found among many keys, each at its line', () => {
    const lines = ['name: a\nservices:\n  api:\n    run: { command: [a] }\n    env:\n'];
    for (let index = 0; index < 20_000; index++) lines.push(`      K${index}: v\n`);
    // Line 6 is K0; these repeat K7, K19998 and K7 again.
    lines.push('      K7: again\n', '      K19998: again\n', '      K7: thrice\n');
    expect(duplicates(lines.join(''))).toEqual([
      { line: 20_006, col: 7, message: 'YAML: map keys must be unique: `K7` is already at 13:7' },
      {
        line: 20_007,
        col: 7,
        message: 'YAML: map keys must be unique: `K19998` is already at 20004:7',
      },
      { line: 20_008, col: 7, message: 'YAML: map keys must be unique: `K7` is already at 13:7' },
    ]);
  });
});

describe('a stack file that is not a file', () => {
  it('is read no further than the size limit', async () => {
    const result = await loadStackFile('/dev/zero');
    expect(result).toEqual({
      ok: false,
      diagnostics: [
        expect.objectContaining({
          message: 'the file is over 2 MiB: a stack file may be at most 2 MiB',
        }),
      ],
    });
  });
});
