// The YAML text of a stack file with positions, so a problem found at a document path
// (services.api.ports.http) can be reported at the line and column a user edits.
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
} from 'yaml';
import type { Diagnostic, Finding, PathSegment } from './diagnostic.ts';

export interface StackSource {
  file: string;
  document: Document;
  lines: LineCounter;
}

export interface ParsedSource {
  source: StackSource;
  /** YAML syntax problems; when present, `value` is not to be trusted. */
  syntaxErrors: Diagnostic[];
  value: unknown;
}

export function parseSource(text: string, file: string): ParsedSource {
  const lines = new LineCounter();
  const document = parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
  });
  const source = { file, document, lines };
  const syntaxErrors = document.errors.map((error): Diagnostic => {
    const position = lines.linePos(error.pos[0]);
    return {
      file,
      line: position.line,
      col: position.col,
      path: [],
      message: `YAML: ${firstLine(error.message)}`,
      hint: syntaxHint(error.code),
    };
  });
  if (syntaxErrors.length > 0) return { source, syntaxErrors, value: undefined };
  try {
    return { source, syntaxErrors, value: document.toJS({ maxAliasCount: 100 }) };
  } catch (error) {
    // Aliases are resolved here, not while parsing: an unknown anchor or an alias bomb.
    const message = error instanceof Error ? error.message : String(error);
    return {
      source,
      syntaxErrors: [
        {
          file,
          line: 1,
          col: 1,
          path: [],
          message: `YAML: ${firstLine(message)}`,
          hint: "check the file's anchors (&name) and aliases (*name)",
        },
      ],
      value: undefined,
    };
  }
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

function syntaxHint(code: string): string | undefined {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'each key may appear once in a mapping: merge the two entries';
    case 'TAB_AS_INDENT':
      return 'YAML indents with spaces, not tabs';
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
      return 'check the indentation of this line against its siblings';
    default:
      return undefined;
  }
}

/** The deepest YAML node along `path`, and whether the whole path was found. */
function locate(source: StackSource, path: PathSegment[], atKey: boolean): Node | undefined {
  let node: unknown = source.document.contents;
  let found: Node | undefined = isScalar(node) || isMap(node) || isSeq(node) ? node : undefined;
  for (const [index, segment] of path.entries()) {
    const last = index === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (!pair || !isPair(pair)) return found;
      if (last && atKey && isScalar(pair.key)) return pair.key;
      node = pair.value;
      if (isScalar(node) || isMap(node) || isSeq(node)) found = node;
      else if (isScalar(pair.key)) found = pair.key;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      if (isScalar(node) || isMap(node) || isSeq(node)) found = node;
      else return found;
    } else {
      return found;
    }
  }
  return found;
}

export function pinFinding(source: StackSource, finding: Finding): Diagnostic {
  const node = locate(source, finding.path, finding.atKey ?? false);
  const offset = node?.range?.[0] ?? 0;
  const position = source.lines.linePos(offset);
  const diagnostic: Diagnostic = {
    file: source.file,
    line: position.line,
    col: position.col,
    path: finding.path,
    message: finding.message,
  };
  if (finding.hint !== undefined) diagnostic.hint = finding.hint;
  return diagnostic;
}
