// A stack file's text loaded as `flotilla validate` loads it (named flotilla.yml, `name: demo`
// prepended), and its findings as "line:message (hint)" lines, for the schema tests.
import { parseStackText } from '../../src/spec/load.ts';

export function loadStackText(text: string) {
  return parseStackText(`name: demo\n${text}`, 'flotilla.yml');
}

export function findingLines(result: ReturnType<typeof loadStackText>): string[] {
  return result.ok
    ? []
    : result.diagnostics.map((d) => `${d.line}:${d.message}${d.hint ? ` (${d.hint})` : ''}`);
}
