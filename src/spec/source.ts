// The YAML text of a stack file with positions, so a problem found at a document path
// (services.api.ports.http) can be reported at the line and column a user edits.
// Linear in the file's size: yaml's own duplicate-key check (`uniqueKeys`) compares every
// key of a mapping with every earlier one, so 40k keys took 11.7 s; ours is one pass with
// a Set per mapping, and finding a path's node uses an index per mapping, not a scan.
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';
import {
  compareDiagnostics,
  type Diagnostic,
  type Finding,
  type PathSegment,
} from './diagnostic.ts';

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
    uniqueKeys: false,
    prettyErrors: false,
  });
  const source = { file, document, lines };
  const syntaxErrors = [
    ...document.errors.map((error): Diagnostic => {
      const position = lines.linePos(error.pos[0]);
      return {
        file,
        line: position.line,
        col: position.col,
        path: [],
        message: `YAML: ${firstLine(error.message)}`,
        hint: syntaxHint(error.code),
      };
    }),
    ...duplicateKeys(source),
  ].sort(compareDiagnostics);
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

/**
 * Every key that repeats an earlier key of its mapping, compared as yaml's `uniqueKeys`
 * does. A loop, not recursion: its depth is not bounded by the call stack.
 */
function duplicateKeys({ file, document, lines }: StackSource): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const pending: unknown[] = [document.contents];
  while (pending.length > 0) {
    const node = pending.pop();
    // Item by item: spreading a list of a million items into push() overflows the stack.
    if (isSeq(node)) for (const item of node.items) pending.push(item);
    if (!isMap(node)) continue;
    // Keyed by the value itself: a Map tells 1 from "1", as yaml's `===` does.
    const seen = new Map<unknown, number>();
    for (const pair of node.items) {
      pending.push(pair.key, pair.value);
      const key = pair.key;
      // yaml compares other keys (mappings, lists, aliases) as nodes: two are never equal.
      if (!isScalar(key)) continue;
      const offset = key.range?.[0] ?? 0;
      const first = seen.get(key.value);
      if (first === undefined) {
        seen.set(key.value, offset);
        continue;
      }
      const position = lines.linePos(offset);
      const earlier = lines.linePos(first);
      diagnostics.push({
        file,
        line: position.line,
        col: position.col,
        path: [],
        message: `YAML: map keys must be unique: \`${String(key.value)}\` is already at ${earlier.line}:${earlier.col}`,
        hint: syntaxHint('DUPLICATE_KEY'),
      });
    }
  }
  return diagnostics;
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

/** A mapping's pairs by key text, built once per mapping (the first pair wins, like a scan). */
const pairIndexes = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairNamed(map: YAMLMap, segment: PathSegment): Pair | undefined {
  let index = pairIndexes.get(map);
  if (index === undefined) {
    index = new Map();
    for (const item of map.items)
      if (isPair(item) && isScalar(item.key) && !index.has(String(item.key.value)))
        index.set(String(item.key.value), item);
    pairIndexes.set(map, index);
  }
  return index.get(String(segment));
}

/** The deepest YAML node along `path`, and whether the whole path was found. */
function locate(source: StackSource, path: PathSegment[], atKey: boolean): Node | undefined {
  let node: unknown = source.document.contents;
  let found: Node | undefined = isScalar(node) || isMap(node) || isSeq(node) ? node : undefined;
  for (const [index, segment] of path.entries()) {
    const last = index === path.length - 1;
    if (isMap(node)) {
      const pair = pairNamed(node, segment);
      if (!pair) return found;
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
  if (finding.unsetSecret !== undefined) diagnostic.unsetSecret = finding.unsetSecret;
  return diagnostic;
}
