// Reads a stack file and returns either a validated Stack or every problem in it, each
// pinned to file:line:col. A user mistake never throws.
import { readFile } from 'node:fs/promises';
import { compareDiagnostics, type Diagnostic, type Finding } from './diagnostic.ts';
import { pruneValue } from './prune.ts';
import { findingsFromIssues } from './schema-findings.ts';
import { stackSchema, type Stack } from './schema.ts';
import { parseSource, pinFinding, type StackSource } from './source.ts';
import { validateStack } from './validate.ts';

export type LoadResult =
  { ok: true; stack: Stack; file: string } | { ok: false; diagnostics: Diagnostic[] };

export interface LoadOptions {
  /** When given, a `${secret:NAME}` not in this set is an error. */
  knownSecrets?: ReadonlySet<string>;
}

export function parseStackText(text: string, file: string, options: LoadOptions = {}): LoadResult {
  const { source, syntaxErrors, value } = parseSource(text, file);
  if (syntaxErrors.length > 0) return { ok: false, diagnostics: syntaxErrors };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return {
      ok: false,
      diagnostics: [
        pinFinding(source, {
          path: [],
          message: 'the stack file must be a YAML mapping',
          hint: 'start with `name: my-stack` and a `services:` mapping (see examples/quickstart/flotilla.yml)',
        }),
      ],
    };
  }
  const parsed = stackSchema.safeParse(value);
  if (parsed.success) {
    const findings = validateStack(parsed.data, options);
    if (findings.length === 0) return { ok: true, stack: parsed.data, file };
    return { ok: false, diagnostics: pin(source, findings) };
  }
  const findings = findingsFromIssues(parsed.error.issues, stackSchema, value);
  return {
    ok: false,
    diagnostics: pin(source, [...findings, ...crossReferenceFindings(value, findings)]),
  };
}

/**
 * Cross-reference findings for a document the schema rejected: drop what it rejected and
 * validate the rest, unless a whole service or node went (then "unknown service" noise
 * would follow).
 */
function crossReferenceFindings(value: unknown, schemaFindings: Finding[]): Finding[] {
  let paths = schemaFindings.map((finding) => finding.path);
  let current = value;
  // Removing a required key raises a new issue one level up: a few rounds settle it.
  for (let round = 0; round < 4; round++) {
    const pruned = pruneValue(current, paths);
    if (!pruned || pruned.removed.some((path) => path.length <= 2)) return [];
    const reparsed = stackSchema.safeParse(pruned.value);
    if (reparsed.success) return validateStack(reparsed.data);
    current = pruned.value;
    paths = findingsFromIssues(reparsed.error.issues, stackSchema, current).map(
      (finding) => finding.path,
    );
  }
  return [];
}

function pin(source: StackSource, findings: Finding[]): Diagnostic[] {
  return findings.map((finding) => pinFinding(source, finding)).sort(compareDiagnostics);
}

export async function loadStackFile(file: string, options: LoadOptions = {}): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      ok: false,
      diagnostics: [
        {
          file,
          line: 1,
          col: 1,
          path: [],
          message:
            code === 'ENOENT' ? 'no such file' : `cannot read the file (${code ?? String(error)})`,
          hint:
            code === 'ENOENT'
              ? 'pass the stack file with -f, or run flotilla where flotilla.yml is'
              : undefined,
        },
      ],
    };
  }
  return parseStackText(text, file, options);
}
