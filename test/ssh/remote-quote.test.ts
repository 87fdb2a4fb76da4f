// The quoting is checked by a real POSIX shell: each argv goes through `sh -c` and must
// come out of printf as the same elements.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { quoteForRemoteShell } from '../../src/ssh/remote-quote.ts';

/** What `sh -c LINE` passes to printf, element by element. */
function throughShell(argv: string[]): string[] {
  const line = quoteForRemoteShell(['printf', '%s\\0', ...argv]);
  return execFileSync('sh', ['-c', line], { encoding: 'utf8' }).split('\0').slice(0, -1);
}

describe('quoteForRemoteShell', () => {
  it("single-quotes each element, a quote as '\\''", () => {
    expect(quoteForRemoteShell(['echo', "it's", ''])).toBe(`'echo' 'it'\\''s' ''`);
  });

  it.each([
    ["it's", "'", "''", "a'b'c"],
    ['two words', '  leading', 'tab\there'],
    ['$HOME', '${PATH}', '$(id)', '`id`', '$1', '$@'],
    ['line one\nline two', '\n', 'crlf\r\n'],
    ['', '', 'between empties', ''],
    ['; rm -rf /', '&& true', '| cat', '> /tmp/x', '*', '?', '[a]', '~', '#comment'],
    ['"double"', 'back\\slash', '\\', '!', 'é ü 日本'],
    ['-n', '--', '-e'],
  ])('arrives intact through sh -c: %j', (...argv) => {
    expect(throughShell(argv)).toEqual(argv);
  });

  it('refuses an empty argv', () => {
    expect(() => quoteForRemoteShell([])).toThrow();
  });
});
