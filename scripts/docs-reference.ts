// Generates docs/reference.md, the stack-file reference, from the zod schema the loader
// validates with (through its JSON Schema), so the reference can never promise a key that
// validate refuses. `npm run docs:reference` writes it; test/docs/reference.test.ts fails
// when the committed file differs from a fresh rendering. The output is deterministic: the
// schema's own key order, no dates.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { z } from 'zod';
import { stackSchema } from '../src/spec/schema.ts';

type Schema = z.core.JSONSchema.JSONSchema;

export const REFERENCE_PATH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../docs/reference.md',
);
export const REGENERATE_COMMAND = 'npm run docs:reference';

/** One object of the stack file: where it sits, and its JSON Schema. */
interface Section {
  path: string;
  schema: Schema;
}

const asSchema = (value: Schema | boolean | undefined): Schema | undefined =>
  typeof value === 'object' ? value : undefined;

/** The heading anchor of a section: its path, lowercase, punctuation as hyphens. */
export function anchorOf(sectionPath: string): string {
  return sectionPath
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** The object a key leads to, directly or through a map or a list, if it has keys. */
function objectBelow(schema: Schema, keyPath: string): Section | undefined {
  if (schema.properties) return { path: keyPath, schema };
  const items = asSchema(schema.items as Schema | undefined);
  if (schema.type === 'array' && items) return objectBelow(items, `${keyPath}[]`);
  const values = asSchema(schema.additionalProperties);
  if (schema.type === 'object' && values) return objectBelow(values, `${keyPath}.<name>`);
  return undefined;
}

function typeOf(schema: Schema): string {
  const items = asSchema(schema.items as Schema | undefined);
  if (schema.type === 'array') return items ? `list of ${typeOf(items)}` : 'list';
  const values = asSchema(schema.additionalProperties);
  if (schema.type === 'object' && !schema.properties && values) return `map of ${typeOf(values)}`;
  if (typeof schema.type === 'string') return schema.type;
  if (Array.isArray(schema.type)) return schema.type.join(' or ');
  return 'any';
}

const LONG_PATTERN = 60;
const code = (text: string) => `\`${text}\``;

/** What a value may be beyond its type: enum, range, pattern, format, length. */
function allowedOf(schema: Schema): string {
  const parts: string[] = [];
  if (schema.enum) parts.push(schema.enum.map((value) => code(String(value))).join(', '));
  const low = schema.minimum ?? schema.exclusiveMinimum;
  if (low !== undefined || schema.maximum !== undefined) {
    const from =
      low === undefined ? '' : `${schema.exclusiveMinimum !== undefined ? '>' : '≥'} ${low}`;
    const to = schema.maximum === undefined ? '' : `≤ ${schema.maximum}`;
    parts.push([from, to].filter(Boolean).join(', '));
  }
  if (schema.format) parts.push(`format ${schema.format}`);
  // A long pattern (host names, e-mail) reads worse than the validator's own message.
  if (schema.pattern && schema.pattern.length <= LONG_PATTERN)
    parts.push(`pattern ${code(schema.pattern)}`);
  if (schema.minLength !== undefined && schema.minLength > 1)
    parts.push(`at least ${schema.minLength} characters`);
  if (schema.minItems !== undefined) parts.push(`at least ${schema.minItems} item(s)`);
  const names = asSchema(schema.propertyNames);
  if (names?.pattern) parts.push(`names match ${code(names.pattern)}`);
  const items = asSchema(schema.items as Schema | undefined);
  if (items && !items.properties) {
    const inner = allowedOf(items);
    if (inner) parts.push(`each: ${inner}`);
  }
  return parts.join('; ');
}

function defaultOf(schema: Schema): string {
  if (schema.default === undefined) return '';
  const value = schema.default;
  // An object's default is its keys' defaults, listed in its own section.
  if (typeof value === 'object' && value !== null && !Array.isArray(value))
    return Object.keys(value).length === 0 ? code('{}') : 'its keys’ defaults';
  return code(JSON.stringify(value));
}

/** Table cells: a pipe would end the cell, and <host> would read as an HTML tag. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Every section in document order: each object, then the objects below its keys. */
function collectSections(section: Section, into: Section[]): Section[] {
  into.push(section);
  for (const [key, value] of Object.entries(section.schema.properties ?? {})) {
    const child = asSchema(value);
    const below = child && objectBelow(child, section.path ? `${section.path}.${key}` : key);
    if (below) collectSections(below, into);
  }
  return into;
}

function renderSection(section: Section): string[] {
  const title = section.path === '' ? 'Top level' : section.path;
  const heading = section.path === '' ? title : code(title);
  const lines = [`<a id="${anchorOf(title)}"></a>`, '', `## ${heading}`, ''];
  if (section.schema.description) lines.push(cell(section.schema.description), '');
  lines.push('| key | type | default | allowed | description |', '| --- | --- | --- | --- | --- |');
  const required = new Set(section.schema.required ?? []);
  for (const [key, value] of Object.entries(section.schema.properties ?? {})) {
    const child = asSchema(value);
    if (!child) continue;
    const keyPath = section.path ? `${section.path}.${key}` : key;
    const below = objectBelow(child, keyPath);
    const type = below ? `[${typeOf(child)}](#${anchorOf(below.path)})` : typeOf(child);
    const name = required.has(key) ? `${code(key)} (required)` : code(key);
    lines.push(
      `| ${name} | ${type} | ${cell(defaultOf(child))} | ${cell(allowedOf(child))} | ${cell(child.description ?? '')} |`,
    );
  }
  lines.push('');
  return lines;
}

/** The whole reference, as Markdown formatted like every other file (`npm run lint`). */
export async function renderReference(): Promise<string> {
  const root = z.toJSONSchema(stackSchema, { io: 'input', unrepresentable: 'any' });
  const sections = collectSections({ path: '', schema: root }, []);
  const lines = [
    '# Stack file reference (`flotilla.yml`)',
    '',
    '<!-- Generated from src/spec/schema.ts by `npm run docs:reference`: do not edit by hand. -->',
    '',
    'Every key `flotilla validate` accepts, generated from the schema it validates with.',
    'Every object is strict: an unknown key is an error (with a "did you mean" hint).',
    '`<name>` stands for a name you choose (a map key); `[]` for each item of a list.',
    'Cross-references (a `depends_on` naming a real service, a backup `to:` naming a',
    'target, …) and interpolations (`${secret:NAME}`, `${svc.address}`, …) are checked by',
    '`validate` beyond what this table shows. `flotilla schema` prints the same schema as',
    'JSON Schema for editors.',
    '',
    '## Sections',
    '',
    ...sections.map((section) => {
      const title = section.path === '' ? 'Top level' : section.path;
      return `- [${section.path === '' ? title : code(title)}](#${anchorOf(title)})`;
    }),
    '',
    ...sections.flatMap(renderSection),
  ];
  const options = await prettier.resolveConfig(REFERENCE_PATH);
  return prettier.format(lines.join('\n'), { ...options, filepath: REFERENCE_PATH });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await writeFile(REFERENCE_PATH, await renderReference());
  console.log(`wrote ${path.relative(process.cwd(), REFERENCE_PATH)}`);
}
