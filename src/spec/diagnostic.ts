// A problem found in a stack file, pinned to the place a user has to edit.
import pc from 'picocolors';

export type PathSegment = string | number;

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  /** Where in the document (e.g. services.api.depends_on.0); empty for file-level problems. */
  path: PathSegment[];
  message: string;
  hint?: string;
  /** A secret this machine's store lacks: a warning where the values are not needed (validate, plan). */
  unsetSecret?: string;
}

/** A problem before it is pinned to a line: validators speak in document paths. */
export interface Finding {
  path: PathSegment[];
  message: string;
  hint?: string;
  unsetSecret?: string;
  /** Point at the key itself rather than its value (unknown keys, duplicate names). */
  atKey?: boolean;
}

export function formatDiagnostic(diagnostic: Diagnostic, color = false): string {
  const paint = color
    ? pc
    : {
        bold: (s: string) => s,
        red: (s: string) => s,
        cyan: (s: string) => s,
        dim: (s: string) => s,
      };
  const where = paint.bold(`${diagnostic.file}:${diagnostic.line}:${diagnostic.col}`);
  const lines = [`${where} ${paint.red('error')} ${diagnostic.message}`];
  if (diagnostic.hint) lines.push(`  ${paint.cyan('hint:')} ${diagnostic.hint}`);
  return lines.join('\n');
}

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return a.line - b.line || a.col - b.col || a.message.localeCompare(b.message);
}
