// How a service that `extends` another is merged over it, following Compose's rules:
// mappings merge key by key; `command`, `entrypoint` and `healthcheck.test` are replaced;
// `environment`, `labels` and the other key=value lists merge by key (list or mapping
// form alike); `depends_on` and `networks` merge by name; `volumes` by container path;
// `secrets` and `configs` by source; other lists are appended, without repeats. The
// `!reset` tag removes an inherited value and `!override` replaces it whole.
import type { Entry, MapNode, Node, ScalarNode, SeqNode } from './tree.ts';

type Rule = 'replace' | 'keyValue' | 'byName' | 'byTarget' | 'bySource' | 'append';

const RULES: Record<string, Rule> = {
  command: 'replace',
  entrypoint: 'replace',
  'healthcheck.test': 'replace',
  environment: 'keyValue',
  labels: 'keyValue',
  annotations: 'keyValue',
  sysctls: 'keyValue',
  'build.args': 'keyValue',
  'build.labels': 'keyValue',
  'deploy.labels': 'keyValue',
  depends_on: 'byName',
  networks: 'byName',
  volumes: 'byTarget',
  devices: 'byTarget',
  secrets: 'bySource',
  configs: 'bySource',
};

/** `override` merged over `base`: both are service mappings; neither is changed. */
export function mergeService(base: MapNode, override: MapNode): MapNode {
  return mergeMaps(base, override, '');
}

function mergeMaps(base: MapNode, override: MapNode, path: string): MapNode {
  const entries = new Map<string, Entry>(base.entries);
  for (const [key, entry] of override.entries) {
    const inherited = entries.get(key);
    if (entry.value.tag === '!reset') {
      entries.delete(key);
    } else if (inherited === undefined || entry.value.tag === '!override') {
      entries.set(key, entry);
    } else {
      const value = mergeValues(inherited.value, entry.value, path === '' ? key : `${path}.${key}`);
      entries.set(key, { ...entry, value });
    }
  }
  return { kind: 'map', entries, pos: override.pos };
}

function mergeValues(base: Node, override: Node, path: string): Node {
  const rule = RULES[path] ?? 'append';
  if (rule === 'replace') return override;
  if (rule === 'keyValue') return mergeMaps(keyValueMap(base), keyValueMap(override), path);
  if (rule === 'byName') return mergeMaps(nameMap(base), nameMap(override), path);
  if (base.kind === 'map' && override.kind === 'map') return mergeMaps(base, override, path);
  if (base.kind === 'seq' && override.kind === 'seq') {
    const identity =
      rule === 'byTarget' ? mountTarget : rule === 'bySource' ? mountSource : scalarKey;
    return mergeLists(base, override, identity);
  }
  return override;
}

/** Appends `override`'s items; an item with the same identity as an earlier one replaces it. */
function mergeLists(
  base: SeqNode,
  override: SeqNode,
  identity: (node: Node) => string | undefined,
): SeqNode {
  const items = [...base.items];
  for (const item of override.items) {
    const id = identity(item);
    const index = id === undefined ? -1 : items.findIndex((existing) => identity(existing) === id);
    if (index >= 0) items[index] = item;
    else items.push(item);
  }
  return { kind: 'seq', items, pos: override.pos };
}

function scalarKey(node: Node): string | undefined {
  return node.kind === 'scalar' && node.value !== null ? String(node.value) : undefined;
}

/** The container path of a volume: `src:/path[:mode]`, `/path`, or the long form's target. */
function mountTarget(node: Node): string | undefined {
  if (node.kind === 'map') {
    const target = node.entries.get('target')?.value;
    return target === undefined ? undefined : scalarKey(target);
  }
  const text = scalarKey(node);
  if (text === undefined) return undefined;
  const parts = text.split(':');
  return parts.length === 1 ? parts[0] : parts[1];
}

function mountSource(node: Node): string | undefined {
  if (node.kind !== 'map') return scalarKey(node);
  const source = node.entries.get('source')?.value;
  return source === undefined ? undefined : scalarKey(source);
}

/** `[A=1, B]` → `{A: "1", B: null}`; a mapping as it is. */
function keyValueMap(node: Node): MapNode {
  if (node.kind !== 'seq') return node.kind === 'map' ? node : emptyMap(node);
  const entries = new Map<string, Entry>();
  for (const item of node.items) {
    const text = scalarKey(item);
    if (text === undefined) continue;
    const equals = text.indexOf('=');
    const key = equals < 0 ? text : text.slice(0, equals);
    const value: ScalarNode = {
      kind: 'scalar',
      value: equals < 0 ? null : text.slice(equals + 1),
      pos: item.pos,
    };
    entries.set(key, { key, keyPos: item.pos, value });
  }
  return { kind: 'map', entries, pos: node.pos };
}

/** `[db, cache]` → `{db: null, cache: null}`; a mapping as it is. */
function nameMap(node: Node): MapNode {
  if (node.kind !== 'seq') return node.kind === 'map' ? node : emptyMap(node);
  const entries = new Map<string, Entry>();
  for (const item of node.items) {
    const name = scalarKey(item);
    if (name !== undefined)
      entries.set(name, {
        key: name,
        keyPos: item.pos,
        value: { kind: 'scalar', value: null, pos: item.pos },
      });
  }
  return { kind: 'map', entries, pos: node.pos };
}

function emptyMap(node: Node): MapNode {
  return { kind: 'map', entries: new Map(), pos: node.pos };
}
