// Fuzz the loader with random mutations of the examples: it may reject, it may never crash.
// Every examples/*/flotilla.yml is mutated as text (lines deleted, duplicated, swapped,
// re-indented, truncated, odd characters and YAML tokens inserted) and as structure (a
// value at a random path replaced, keys renamed or deleted, dependency cycles, duplicate
// ports and routes, names that shadow Object.prototype). A rejected mutant must come with
// diagnostics a person can use; an accepted one must plan without throwing.
//
// Seeded, so a failure reproduces: fast-check prints the seed, the path and the shrunk
// counterexample, and the error names the mutant text. FUZZ_SEED and FUZZ_RUNS (mutants per
// property, over all examples) override the defaults for a longer local run.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { planStack } from '../../src/plan/plan.ts';
import { parseStackText } from '../../src/spec/load.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SEED = Number(process.env['FUZZ_SEED'] ?? 0x5eed);
// Mutants per property across all examples; the file stays well under 30 s on 2 cores.
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 2000);
const PLAN_KEYS = 'placement order routes caddy firewall reachability acl cost'.split(' ');

// Globbed at test time: examples are added alongside this test.
const examples = readdirSync(path.join(ROOT, 'examples'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => `examples/${entry.name}/flotilla.yml`)
  .filter((file) => existsSync(path.join(ROOT, file)))
  .sort();
const runsPerExample = Math.max(25, Math.ceil(RUNS / Math.max(1, examples.length)));

// ---------------------------------------------------------------------------------------
// What must hold for every mutant.

/** Words that betray a formatting bug, unless the mutant itself contains them. */
function leakedWord(text: string, source: string): string | undefined {
  if (text.includes('[object Object]') && !source.includes('[object Object]'))
    return '[object Object]';
  if (/\bundefined\b/.test(text) && !source.includes('undefined')) return 'undefined';
  if (/\bNaN\b/.test(text) && !/nan/i.test(source)) return 'NaN';
  // A user-chosen name looked up on a plain object found an Object.prototype member.
  if (text.includes('[native code]')) return '[native code]';
  return undefined;
}

function checkMutant(source: string, file: string): void {
  const fail = (problem: string) => {
    throw new Error(`${problem}\n--- mutant of ${file} ---\n${source}\n--- end of mutant ---`);
  };
  let result: ReturnType<typeof parseStackText>;
  try {
    result = parseStackText(source, file);
  } catch (error) {
    return fail(`parseStackText threw: ${error instanceof Error ? error.stack : String(error)}`);
  }
  if (!result.ok) {
    if (result.diagnostics.length === 0) fail('rejected without a diagnostic');
    for (const diagnostic of result.diagnostics) {
      const shown = JSON.stringify(diagnostic);
      if (!Number.isInteger(diagnostic.line) || diagnostic.line < 1) fail(`bad line in ${shown}`);
      if (!Number.isInteger(diagnostic.col) || diagnostic.col < 1) fail(`bad column in ${shown}`);
      if (diagnostic.file !== file) fail(`wrong file in ${shown}`);
      if (typeof diagnostic.message !== 'string' || diagnostic.message.trim() === '')
        fail(`empty message in ${shown}`);
      const leaked =
        leakedWord(diagnostic.message, source) ?? leakedWord(diagnostic.hint ?? '', source);
      if (leaked) fail(`"${leaked}" in ${shown}`);
    }
    return;
  }
  let plan: ReturnType<typeof planStack>;
  try {
    plan = planStack(result.stack, {
      stackDir: path.dirname(path.join(ROOT, file)),
      stateDir: '/var/lib/flotilla',
    });
  } catch (error) {
    return fail(
      `planStack threw on an accepted stack: ${error instanceof Error ? error.stack : String(error)}`,
    );
  }
  const missing = PLAN_KEYS.filter((key) => !(key in plan));
  if (missing.length > 0) fail(`plan lacks ${missing.join(', ')}`);
  const leaked = leakedWord(JSON.stringify(plan), source);
  if (leaked) fail(`"${leaked}" in the plan of an accepted stack`);
}

// ---------------------------------------------------------------------------------------
// Text-level mutations.

// YAML syntax, escapes, number forms, prototype names and awkward unicode (BOM, NUL,
// line separator, zero-width space, combining accent, lone surrogate, RTL override).
// prettier-ignore
const TOKENS = [
  '${', '}', '${}', '$${', ': ', ':', '- ', '-', '\t', '\n', '\r\n', '\r', ' ', '  ', '#', '"', "'", '[', ']',
  '{', '{}', ',', '|', '>-', '&a ', '*a', '<<: *a', '!!binary ', '!!timestamp 2001-12-14', '!!set ',
  '!custom ', '? ', '---\n', '\n...\n', '%YAML 1.1\n', '~', 'null', '.nan', '.inf', '-.inf', '0x1F', '0o17',
  '1e400', '-1', '99999999999999999999', '1_000', 'constructor', '__proto__', 'toString', '\u00a0', '\ufeff',
  '\u2028', '\u0000', '\u200b', '🚀', 'é', 'e\u0301', '\ud800', 'ß', 'İ', '\u202e',
];

type TextMutation =
  | { op: 'deleteLine' | 'duplicateLine'; at: number }
  | { op: 'swapLines'; at: number; other: number }
  | { op: 'indent'; at: number; by: number; tab: boolean }
  | { op: 'insert'; at: number; text: string }
  | { op: 'truncate'; at: number };

const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ op: fc.constantFrom('deleteLine' as const, 'duplicateLine' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('swapLines' as const), at: fc.nat(), other: fc.nat() }),
  fc.record({
    op: fc.constant('indent' as const),
    at: fc.nat(),
    by: fc.integer({ min: -4, max: 4 }),
    tab: fc.boolean(),
  }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...TOKENS) },
      fc.string({ unit: 'binary', maxLength: 6 }),
      fc.string({ unit: 'grapheme', maxLength: 6 }),
    ),
  }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

function applyText(text: string, mutation: TextMutation): string {
  if (mutation.op === 'insert') {
    const at = mutation.at % (text.length + 1);
    return text.slice(0, at) + mutation.text + text.slice(at);
  }
  if (mutation.op === 'truncate') return text.slice(0, mutation.at % (text.length + 1));
  const lines = text.split('\n');
  const at = mutation.at % lines.length;
  const line = lines[at]!;
  switch (mutation.op) {
    case 'deleteLine':
      lines.splice(at, 1);
      break;
    case 'duplicateLine':
      lines.splice(at, 0, line);
      break;
    case 'swapLines': {
      const other = mutation.other % lines.length;
      lines[at] = lines[other]!;
      lines[other] = line;
      break;
    }
    case 'indent':
      lines[at] =
        mutation.by >= 0
          ? (mutation.tab ? '\t' : ' ').repeat(mutation.by) + line
          : line.replace(new RegExp(`^ {0,${-mutation.by}}`), '');
      break;
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------
// Structure-level mutations on the parsed document, stringified back to YAML.

type Json = unknown;
type PathSegment = string | number;

// A name a user may pick that a careless `obj[name]` or `name in obj` finds on Object.prototype.
const PROTOTYPE_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'prototype',
];
// prettier-ignore
const SPECIAL_VALUES: Json[] = [
  0, -1, -65535, 1.5, 65535, 65536, 2 ** 31, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, NaN, Infinity, -Infinity,
  '', ' ', '\t', 'ghost', '${ghost.host}', '${ghost.port}', '${ghost.port.http}', '${secret:}', '${secret:X', '${',
  '}', '$${', '${port.nope}', '${data.x}', 'ghost.port', 'node:ghost', 'service:ghost', '0.0.0.0/0', '10.0.0.0/33',
  '10.0.0.1/8', '999.1.1.1', '*/5 * * * *', '99 99 * * *', '1h30m', '-5s', '0s', 'x'.repeat(300), '日本語',
  'SIGKILL', 'SIGFOO', true, false, null, [], {}, ['ghost'], [{}], [null], { ghost: 1 }, { http: 1 },
  ...PROTOTYPE_NAMES,
  ...PROTOTYPE_NAMES.map((name) => [name]),
  ...PROTOTYPE_NAMES.map((name) => `\${${name}.port}`),
];

// prettier-ignore
const KEY_NAMES = [
  ...PROTOTYPE_NAMES, 'ghost', '', ' ', 'Api', 'api_1', 'a'.repeat(70), '0', 'ports', 'node', 'nodes', 'run', 'image',
  'replicas', 'routes', 'depends_on', 'networks', 'health', 'env', 'backup', 'labels', 'services', 'gateway',
];
const keyName = fc.oneof(fc.constantFrom(...KEY_NAMES), fc.string({ maxLength: 8 }));

type StructureMutation =
  | { op: 'set'; pick: number; value: Json; known: number; useKnown: boolean }
  | { op: 'delete'; pick: number }
  | { op: 'rename'; pick: number; name: string }
  | { op: 'copy'; pick: number; to: number }
  | { op: 'cycle'; services: number[] }
  | { op: 'sharePort' | 'shareRoute' | 'cloneService'; a: number; b: number; name: string };

const structureMutation: fc.Arbitrary<StructureMutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      pick: fc.nat(),
      value: fc.oneof(
        { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_VALUES) },
        fc.jsonValue({ maxDepth: 2 }),
      ),
      known: fc.nat(),
      useKnown: fc.boolean(),
    }),
  },
  fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('rename' as const), pick: fc.nat(), name: keyName }),
  fc.record({ op: fc.constant('copy' as const), pick: fc.nat(), to: fc.nat() }),
  fc.record({
    op: fc.constant('cycle' as const),
    services: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
  }),
  fc.record({
    op: fc.constantFrom('sharePort' as const, 'shareRoute' as const, 'cloneService' as const),
    a: fc.nat(),
    b: fc.nat(),
    name: keyName,
  }),
);

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Every path in the document, the root included, in a stable order. */
function allPaths(
  value: Json,
  prefix: PathSegment[] = [],
  into: PathSegment[][] = [],
): PathSegment[][] {
  into.push(prefix);
  if (Array.isArray(value))
    value.forEach((item, index) => allPaths(item, [...prefix, index], into));
  else if (isObject(value))
    for (const [key, item] of Object.entries(value)) allPaths(item, [...prefix, key], into);
  return into;
}

/** Keys and string values of the document: mutations reuse them to hit real names. */
function knownNames(value: Json, into = new Set<string>()): string[] {
  if (typeof value === 'string') into.add(value);
  else if (Array.isArray(value)) value.forEach((item) => knownNames(item, into));
  else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      into.add(key);
      knownNames(item, into);
    }
  }
  return [...into];
}

function getAt(root: Json, at: PathSegment[]): Json {
  let current = root;
  for (const segment of at) {
    if (Array.isArray(current) && typeof segment === 'number') current = current[segment];
    else if (isObject(current) && Object.hasOwn(current, segment)) current = current[segment];
    else return undefined;
  }
  return current;
}

/** Own-property write, so `__proto__` becomes a key rather than a prototype. */
function put(container: Record<string, unknown> | unknown[], key: PathSegment, value: Json): void {
  Object.defineProperty(container, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** Sets the value at `at`; returns the new root (the root itself may be replaced). */
function setAt(root: Json, at: PathSegment[], value: Json): Json {
  if (at.length === 0) return value;
  const parent = getAt(root, at.slice(0, -1));
  if (Array.isArray(parent) || isObject(parent)) put(parent, at.at(-1)!, value);
  return root;
}

function deleteAt(root: Json, at: PathSegment[]): Json {
  if (at.length === 0) return {};
  const parent = getAt(root, at.slice(0, -1));
  const key = at.at(-1)!;
  if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1);
  else if (isObject(parent)) delete parent[key];
  return root;
}

function renameAt(root: Json, at: PathSegment[], name: string): Json {
  const parent = getAt(root, at.slice(0, -1));
  const key = at.at(-1);
  if (!isObject(parent) || typeof key !== 'string' || key === name) return root;
  // Rebuild so the renamed key keeps its place in the mapping.
  const entries = Object.entries(parent);
  for (const [existing] of entries) delete parent[existing];
  for (const [existing, item] of entries) put(parent, existing === key ? name : existing, item);
  return root;
}

function servicesOf(root: Json): Record<string, unknown> | undefined {
  return isObject(root) && isObject(root['services']) ? root['services'] : undefined;
}

function applyStructure(root: Json, mutation: StructureMutation, names: readonly string[]): Json {
  const paths = allPaths(root);
  const pathAt = (pick: number) => paths[pick % paths.length]!;
  const services = servicesOf(root);
  const serviceNames = services ? Object.keys(services) : [];
  const serviceAt = (pick: number) =>
    serviceNames.length > 0 ? serviceNames[pick % serviceNames.length] : undefined;
  switch (mutation.op) {
    case 'set': {
      const value =
        mutation.useKnown && names.length > 0
          ? names[mutation.known % names.length]
          : mutation.value;
      return setAt(root, pathAt(mutation.pick), structuredClone(value));
    }
    case 'delete':
      return deleteAt(root, pathAt(mutation.pick));
    case 'rename':
      return renameAt(root, pathAt(mutation.pick), mutation.name);
    case 'copy':
      return setAt(root, pathAt(mutation.to), structuredClone(getAt(root, pathAt(mutation.pick))));
    case 'cycle': {
      // a → b → … → a through depends_on (a single service: it depends on itself).
      const ring = mutation.services.map(serviceAt).filter((name) => name !== undefined);
      ring.forEach((name, index) => {
        const service = services?.[name];
        if (!isObject(service)) return;
        const next = ring[(index + 1) % ring.length]!;
        const existing = Array.isArray(service['depends_on']) ? service['depends_on'] : [];
        service['depends_on'] = [...existing, next];
      });
      return root;
    }
    case 'sharePort':
    case 'shareRoute':
    case 'cloneService': {
      const a = serviceAt(mutation.a);
      const b = serviceAt(mutation.b);
      const from = a === undefined ? undefined : services?.[a];
      const to = b === undefined ? undefined : services?.[b];
      if (!isObject(from) || !isObject(to) || !services) return root;
      if (mutation.op === 'cloneService') {
        put(services, mutation.name, structuredClone(from));
      } else if (mutation.op === 'sharePort') {
        // Same node, same ports: a clash validate must report, not plan around.
        to['ports'] = structuredClone(from['ports'] ?? { http: 8080 });
        if (from['node'] !== undefined) to['node'] = from['node'];
      } else {
        const routes =
          Array.isArray(from['routes']) && from['routes'].length > 0
            ? from['routes']
            : [{ host: 'dup.localhost' }];
        to['routes'] = [
          ...(Array.isArray(to['routes']) ? to['routes'] : []),
          ...structuredClone(routes),
        ];
      }
      return root;
    }
  }
}

// ---------------------------------------------------------------------------------------

// The smallest mutants that broke the loader when this file was written (names that
// shadow Object.prototype members, an enum key left out, YAML aliases, cron-parser's
// "range NaN-0"), kept so the bugs stay fixed. The alias bomb was written by hand, next
// to the unresolved alias it resembles.
const FOUND_BY_FUZZING: Record<string, string> = {
  'a dependency named like an Object.prototype member': `name: demo
services:
  api:
    run: { command: [node] }
    depends_on: [valueOf]
`,
  'a reference to a service named like an Object.prototype member': `name: demo
services:
  api:
    run: { command: [node, "\${hasOwnProperty.port}"] }
`,
  'an allow rule to a service named like an Object.prototype member': `name: demo
services:
  api: { run: { command: [node] }, ports: { http: 3000 } }
firewall:
  allow:
    - { from: [10.0.0.0/8], to: constructor }
`,
  'a route to a port named like an Object.prototype member': `name: demo
services:
  api:
    run: { command: [node] }
    ports: { http: 3000 }
    routes: [{ host: api.localhost, port: toString }]
`,
  'an alias to an anchor that does not exist': `name: demo
services: *a
`,
  'an alias bomb': `name: demo
x1: &a [l, l, l, l, l, l, l, l, l, l]
x2: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
x3: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
x4: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
`,
  'a cron field that starts with a dash': `name: demo
nodes: { a: { address: 10.0.0.1 } }
backups:
  targets: { offsite: { repository: /backups, password: x } }
  jobs:
    etc: { kind: files, paths: [/etc], node: a, schedule: "-0 3 * * *", to: offsite }
`,
  'a backup without a kind': `name: demo
services:
  db:
    run: { command: [postgres] }
    backup: { schedule: "0 2 * * *", to: offsite }
backups:
  targets: { offsite: { repository: /backups, password: x } }
`,
};

describe('mutants found by fuzzing', () => {
  it.each(Object.entries(FOUND_BY_FUZZING))('survives %s', (_name, text) =>
    checkMutant(text, 'flotilla.yml'),
  );
});

describe.each(examples)('fuzzing the loader with mutants of %s', (file) => {
  const original = readFileSync(path.join(ROOT, file), 'utf8');

  it('accepts the unmutated example and plans it', () => {
    checkMutant(original, file);
    if (!parseStackText(original, file).ok) throw new Error(`${file} itself is rejected`);
  });

  it('never crashes on text mutations', () => {
    fc.assert(
      fc.property(fc.array(textMutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        checkMutant(mutations.reduce(applyText, original), file);
      }),
      { seed: SEED, numRuns: runsPerExample },
    );
  });

  it('never crashes on structure mutations', () => {
    const document = parseYaml(original) as Json;
    const names = knownNames(document);
    fc.assert(
      fc.property(fc.array(structureMutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        const mutant = mutations.reduce(
          (root, mutation) => applyStructure(root, mutation, names),
          structuredClone(document),
        );
        const text = stringifyYaml(mutant, { aliasDuplicateObjects: false, lineWidth: 0 }) ?? '';
        checkMutant(text, file);
      }),
      { seed: SEED, numRuns: runsPerExample },
    );
  });
});
