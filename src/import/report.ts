// What an import could not carry over, and what it changed on the way: every note names
// the place in the source file (file:line:col when it is known) and says what to do.
// An import never drops a key silently: what it does not translate is listed here.
import pc from 'picocolors';

/** A place in a source file; line and col are unknown for values a program computed. */
export interface SourcePos {
  file: string;
  line?: number;
  col?: number;
}

/**
 * `untranslated`: a key with no Flotilla equivalent; `changed`: translated, with a
 * difference to know about; `left-out`: a whole service not imported; `suggestion`: what
 * the file hints at but the import does not invent (routes).
 */
export type NoteKind = 'untranslated' | 'changed' | 'left-out' | 'suggestion';

export interface Note {
  at: SourcePos;
  /** Where in the source document, e.g. services.web.build or apps[0].cron_restart. */
  path: string;
  kind: NoteKind;
  message: string;
  hint?: string;
}

const LABELS: Record<NoteKind, string> = {
  untranslated: 'not translated',
  changed: 'changed',
  'left-out': 'left out',
  suggestion: 'suggestion',
};

export class ImportReport {
  readonly notes: Note[] = [];
  /** Secrets the imported stack refers to, with what the user should run to set each. */
  readonly secrets = new Map<string, string>();

  add(note: Note): void {
    this.notes.push(note);
  }

  note(kind: NoteKind, at: SourcePos, path: string, message: string, hint?: string): void {
    this.add(hint === undefined ? { at, path, kind, message } : { at, path, kind, message, hint });
  }

  /** Records that the stack needs secret `name`; the first way to set it given wins. */
  needSecret(name: string, how: string): void {
    if (!this.secrets.has(name)) this.secrets.set(name, how);
  }

  count(kind: NoteKind): number {
    return this.notes.filter((note) => note.kind === kind).length;
  }
}

export function formatPos(at: SourcePos): string {
  return at.line === undefined ? at.file : `${at.file}:${at.line}:${at.col ?? 1}`;
}

function comparePos(a: SourcePos, b: SourcePos): number {
  return (
    a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0)
  );
}

/** The report as a person reads it: notes in file order, then the secrets to set. */
export function formatReport(report: ImportReport, color = false): string {
  const paint = pc.createColors(color);
  const lines: string[] = [];
  const notes = [...report.notes].sort((a, b) => comparePos(a.at, b.at));
  for (const note of notes) {
    const label =
      note.kind === 'untranslated' ? paint.yellow(LABELS[note.kind]) : LABELS[note.kind];
    lines.push(`${paint.bold(formatPos(note.at))} ${label} ${note.path}: ${note.message}`);
    if (note.hint !== undefined) lines.push(`  ${paint.cyan('hint:')} ${note.hint}`);
  }
  if (report.secrets.size > 0) {
    lines.push('', 'Secrets the stack needs (values are never written to the stack file):');
    for (const [name, how] of report.secrets) lines.push(`  ${name}: ${how}`);
  }
  return lines.join('\n');
}
