// What every part of a Compose import shares: the variables values are interpolated
// with, the report notes go to, and small readers that turn a node into the value a
// mapping needs or say (with file:line:col) why it cannot.
import path from 'node:path';
import { ImportError } from '../errors.ts';
import { relocatePath } from '../paths.ts';
import type { ImportReport, NoteKind } from '../report.ts';
import {
  MissingVariableError,
  parseComposeTemplate,
  resolveTemplate,
  TemplateError,
  type TemplatePart,
} from './interpolate.ts';
import type { Node, Pos } from './tree.ts';
import type { ComposeVariables } from './variables.ts';

export class ComposeContext {
  private readonly warnedUnset = new Set<string>();
  /** The stack's name, also Compose's project name (built images are `<project>-<service>`). */
  project = 'compose';

  constructor(
    readonly variables: ComposeVariables,
    readonly report: ImportReport,
    /** Where the stack file goes: relative paths in it are relative to this directory. */
    readonly outputDir: string,
  ) {}

  note(kind: NoteKind, at: Pos, path: string, message: string, hint?: string): void {
    this.report.note(kind, at, path, message, hint);
  }

  /** A value Compose itself would refuse (the wrong kind, a missing part): listed, not guessed at. */
  malformed(at: Pos, path: string, message: string): void {
    this.note(
      'untranslated',
      at,
      path,
      message,
      'Compose would refuse it too: fix it in the Compose file and import again',
    );
  }

  /** The parts of a scalar's template; an invalid one stops the import, as in Compose. */
  parts(text: string, at: Pos): TemplatePart[] {
    try {
      return parseComposeTemplate(text);
    } catch (error) {
      if (error instanceof TemplateError) throw new ImportError(error.message, error.hint, at);
      throw error;
    }
  }

  /** Resolves template parts, stopping on a required variable without a value. */
  resolve(parts: TemplatePart[], at: Pos, path: string): string {
    try {
      return resolveTemplate(parts, this.variables, (name) => this.warnUnset(name, at, path));
    } catch (error) {
      if (error instanceof MissingVariableError)
        throw new ImportError(
          error.message,
          `set ${error.variable} in the environment or in the .env file beside the Compose file`,
          at,
        );
      throw error;
    }
  }

  warnUnset(name: string, at: Pos, path: string): void {
    if (this.warnedUnset.has(name)) return;
    this.warnedUnset.add(name);
    this.note(
      'changed',
      at,
      path,
      `variable ${name} is not set: Compose would use an empty string, and so does the import`,
      `set ${name} in the environment or in the .env file beside the Compose file and import again`,
    );
  }

  /** A scalar as interpolated text (numbers and booleans as written); undefined for null. */
  text(node: Node, path: string): string | undefined {
    if (node.kind !== 'scalar' || node.value === null) return undefined;
    if (typeof node.value !== 'string') return String(node.value);
    return this.resolve(this.parts(node.value, node.pos), node.pos, path);
  }

  /**
   * A scalar's text, or a note saying what was expected (`untranslated`) and undefined:
   * a value of the wrong kind is listed, never guessed at.
   */
  expectText(node: Node, path: string, what: string): string | undefined {
    const text = this.text(node, path);
    if (text === undefined)
      this.malformed(node.pos, path, `expected ${what}, found ${describe(node)}`);
    return text;
  }

  /** A boolean as Compose reads one (true/false, also as quoted text). */
  bool(node: Node, path: string): boolean | undefined {
    const text = this.text(node, path)?.toLowerCase();
    if (text === 'true') return true;
    if (text === 'false') return false;
    this.malformed(node.pos, path, `expected true or false, found ${describe(node)}`);
    return undefined;
  }

  /** A string or a list of strings (Compose's "string or list" fields). */
  textList(node: Node, path: string): { text: string; at: Pos; path: string }[] {
    if (node.kind === 'seq')
      return node.items.flatMap((item, index) => {
        const itemPath = `${path}[${index}]`;
        const text = this.expectText(item, itemPath, 'a string');
        return text === undefined ? [] : [{ text, at: item.pos, path: itemPath }];
      });
    const text = this.expectText(node, path, 'a string or a list');
    return text === undefined ? [] : [{ text, at: node.pos, path }];
  }

  /** A path written in the Compose file, as the stack file (next to `outputDir`) names it. */
  relocate(written: string, at: Pos): string {
    return relocatePath(written, path.dirname(path.resolve(at.file)), this.outputDir);
  }
}

export function describe(node: Node): string {
  if (node.kind === 'map') return 'a mapping';
  if (node.kind === 'seq') return 'a list';
  if (node.value === null) return 'nothing';
  return typeof node.value === 'string' ? `"${node.value}"` : String(node.value);
}
