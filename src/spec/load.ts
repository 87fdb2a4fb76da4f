// Reads a stack file and returns either a validated Stack or every problem in it, each
// pinned to file:line:col. A user mistake never throws. The file's size is capped: the hub
// loads the file a client names (`POST /api/v1/apply`), and a 50 MB file must not cost minutes.
import { open } from 'node:fs/promises';
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

/**
 * Far above any real stack (2,000 generated services are 0.8 MiB), and a bound on the
 * worst: yaml alone spends ~15 µs a byte on hostile shapes (a million nested `[`).
 */
export const MAX_STACK_FILE_BYTES = 2 * 1024 * 1024;

/** A problem with the file as a whole, reported at its first line. */
export function wholeFileProblem(file: string, message: string, hint?: string): LoadResult {
  const diagnostic = { file, line: 1, col: 1, path: [], message };
  return { ok: false, diagnostics: [hint === undefined ? diagnostic : { ...diagnostic, hint }] };
}

function tooBig(file: string, bytes: number): LoadResult {
  const limit = `${MAX_STACK_FILE_BYTES / 1024 / 1024} MiB`;
  // Past the cap, only a regular file's size is known: a device or pipe is just too big.
  const size =
    bytes > MAX_STACK_FILE_BYTES + 1 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `over ${limit}`;
  return wholeFileProblem(
    file,
    `the file is ${size}: a stack file may be at most ${limit}`,
    `check that -f names your stack file: ${limit} is far more than any real stack needs (2,000 services fit in 1 MiB)`,
  );
}

export function parseStackText(text: string, file: string, options: LoadOptions = {}): LoadResult {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_STACK_FILE_BYTES) return tooBig(file, bytes);
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
  try {
    return checkValue(source, value, options);
  } catch (error) {
    // zod gathers a list's problems with push(...problems), the dependency check recurses
    // along depends_on: a 1 MiB file of either exhausts the stack. Not a real stack file.
    if (!(error instanceof RangeError && /call stack/.test(error.message))) throw error;
    return wholeFileProblem(
      file,
      'the file is too large to check: it has too many problems or too long a depends_on chain',
      'check that -f names your stack file; a real stack has far fewer services and problems',
    );
  }
}

function checkValue(source: StackSource, value: object, options: LoadOptions): LoadResult {
  const parsed = stackSchema.safeParse(value);
  if (parsed.success) {
    const findings = validateStack(parsed.data, options);
    if (findings.length === 0) return { ok: true, stack: parsed.data, file: source.file };
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

/** The file's text, or its size when it is over the cap (read no further than that). */
async function readCapped(file: string): Promise<{ text: string } | { bytes: number }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    // One byte more than allowed: reading it proves the file too big (it may be growing,
    // or a device such as /dev/zero whose size says nothing).
    const buffer = Buffer.allocUnsafe(MAX_STACK_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_STACK_FILE_BYTES) return { bytes: Math.max(size, length) };
    return { text: buffer.toString('utf8', 0, length) };
  } finally {
    await handle.close();
  }
}

export async function loadStackFile(file: string, options: LoadOptions = {}): Promise<LoadResult> {
  let read;
  try {
    read = await readCapped(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return wholeFileProblem(
      file,
      code === 'ENOENT' ? 'no such file' : `cannot read the file (${code ?? String(error)})`,
      code === 'ENOENT'
        ? 'pass the stack file with -f, or run flotilla where flotilla.yml is'
        : undefined,
    );
  }
  if ('bytes' in read) return tooBig(file, read.bytes);
  return parseStackText(read.text, file, options);
}
