// A Compose file as a tree of values that remember where they were written, so every note
// and error can name file:line:col, also after anchors, merge keys (`<<:`) and `extends`
// have moved values around. Aliases resolve to the anchored node (shared, never copied:
// an alias bomb costs nothing here), merge keys merge as Compose's YAML library does:
// the map's own keys win, then the merged maps in the order given.
import { readFile, stat } from 'node:fs/promises';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type LineCounter,
  type Node as YamlNode,
  type Scalar,
  type YAMLMap,
} from 'yaml';
import { parseSource } from '../../spec/source.ts';
import { ImportError } from '../errors.ts';
import type { SourcePos } from '../report.ts';

export interface Pos extends SourcePos {
  line: number;
  col: number;
}

type ScalarValue = string | number | boolean | null;

interface Tagged {
  pos: Pos;
  /** A YAML tag such as Compose's `!reset` and `!override`. */
  tag?: string;
}

export interface ScalarNode extends Tagged {
  kind: 'scalar';
  value: ScalarValue;
}

export interface Entry {
  key: string;
  keyPos: Pos;
  value: Node;
}

export interface MapNode extends Tagged {
  kind: 'map';
  entries: Map<string, Entry>;
}

export interface SeqNode extends Tagged {
  kind: 'seq';
  items: Node[];
}

export type Node = ScalarNode | MapNode | SeqNode;

const ALIAS_HINT = "check the file's anchors (&name) and aliases (*name)";

/** Bigger than any real Compose file, small enough to parse in well under a second. */
const MAX_COMPOSE_FILE_BYTES = 2 * 1024 * 1024;

export async function readComposeFile(file: string): Promise<Node> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ImportError(
      code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read it (${code})`,
      code === 'ENOENT' ? 'give the path of a docker-compose.yml or compose.yaml' : undefined,
    );
  }
  if (size > MAX_COMPOSE_FILE_BYTES)
    throw new ImportError(
      `${file} is ${(size / 1024 / 1024).toFixed(1)} MiB: a Compose file may be at most 2 MiB here`,
      'check that you named a Compose file',
    );
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ImportError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code})`);
  }
  return parseComposeText(text, file);
}

/** Parses Compose YAML; syntax problems (duplicate keys included) throw an ImportError. */
export function parseComposeText(text: string, file: string): Node {
  const { source, syntaxErrors } = parseSource(text, file);
  // parseSource also turns the document into plain values and refuses heavy aliasing
  // there (its anchors hint); this tree resolves aliases itself, sharing what they name.
  const yamlErrors = syntaxErrors.filter((diagnostic) => diagnostic.hint !== ALIAS_HINT);
  if (yamlErrors.length > 0) {
    const [first] = yamlErrors;
    const more = yamlErrors.length - 1;
    throw new ImportError(
      `${first!.message}${more > 0 ? ` (and ${more} more YAML problem${more > 1 ? 's' : ''})` : ''}`,
      first!.hint ?? 'fix the YAML: `docker compose config` shows the same problem',
      { file, line: first!.line, col: first!.col },
    );
  }
  const contents = source.document.contents;
  if (contents === null)
    throw new ImportError('the file is empty', 'a Compose file has a `services:` mapping', {
      file,
      line: 1,
      col: 1,
    });
  return new TreeBuilder(source.document, source.lines, file).build(contents);
}

/** `<<` written plainly is a merge key; quoted, it is an ordinary key. */
function isMergeKey(key: Scalar): boolean {
  return key.value === '<<' && key.type === 'PLAIN';
}

class TreeBuilder {
  /** Anchored nodes already built: an alias shares the node it names. */
  private readonly built = new Map<YamlNode, Node>();
  private readonly building = new Set<YamlNode>();

  constructor(
    private readonly document: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
  ) {}

  private pos(node: { range?: readonly number[] | null } | null | undefined): Pos {
    const { line, col } = this.lines.linePos(node?.range?.[0] ?? 0);
    return { file: this.file, line, col };
  }

  build(node: unknown): Node {
    if (isAlias(node)) {
      const target = node.resolve(this.document);
      if (target === undefined)
        throw new ImportError(
          `unknown anchor *${node.source}`,
          'define it with &name first',
          this.pos(node),
        );
      return this.build(target);
    }
    const yamlNode = node as YamlNode;
    const done = this.built.get(yamlNode);
    if (done) return done;
    if (this.building.has(yamlNode))
      throw new ImportError(
        'an alias refers to a value that contains it',
        undefined,
        this.pos(yamlNode),
      );
    this.building.add(yamlNode);
    const result = this.buildNew(yamlNode);
    this.building.delete(yamlNode);
    this.built.set(yamlNode, result);
    return result;
  }

  private buildNew(node: YamlNode): Node {
    const pos = this.pos(node);
    const tag = node.tag === undefined ? {} : { tag: node.tag };
    if (isScalar(node)) {
      const value = node.value;
      const plain =
        value === null || ['string', 'number', 'boolean'].includes(typeof value)
          ? (value as ScalarValue)
          : String(value);
      return { kind: 'scalar', value: plain, pos, ...tag };
    }
    if (isSeq(node))
      return { kind: 'seq', items: node.items.map((item) => this.build(item)), pos, ...tag };
    if (isMap(node)) return this.buildMap(node as YAMLMap, pos, tag);
    throw new ImportError('unexpected YAML value', undefined, pos);
  }

  private buildMap(node: YAMLMap, pos: Pos, tag: { tag?: string }): MapNode {
    // The map's own keys win wherever they are written; merged keys keep the place of
    // their `<<:` (so the result reads in the file's order).
    const own = new Set<string>();
    for (const pair of node.items)
      if (isScalar(pair.key) && !isMergeKey(pair.key)) own.add(String(pair.key.value));
    const entries = new Map<string, Entry>();
    for (const pair of node.items) {
      const key = pair.key;
      if (!isScalar(key))
        throw new ImportError(
          'a key must be a plain value, not a list or mapping',
          undefined,
          this.pos(key as YamlNode),
        );
      if (isMergeKey(key)) {
        const value = this.build(pair.value);
        for (const merged of value.kind === 'seq' ? value.items : [value]) {
          if (merged.kind !== 'map')
            throw new ImportError(
              '`<<:` merges mappings only (an alias such as *defaults, or a list of them)',
              undefined,
              merged.pos,
            );
          for (const [name, entry] of merged.entries)
            if (!own.has(name) && !entries.has(name)) entries.set(name, entry);
        }
        continue;
      }
      const name = String(key.value);
      const keyPos = this.pos(key);
      // `key:` with nothing after it: a null where the key is.
      const value: Node =
        pair.value === null || pair.value === undefined
          ? { kind: 'scalar', value: null, pos: keyPos }
          : this.build(pair.value);
      entries.set(name, { key: name, keyPos, value });
    }
    return { kind: 'map', entries, pos, ...tag };
  }
}
