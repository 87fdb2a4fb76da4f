// Turns an imported stack into stack-file text (a header saying where it came from, the
// suggestions as comments), checks it with the project's own loader, and writes it. A
// result the loader refuses is never written: its problems are reported at the places in
// the source file they came from.
import { writeFile } from 'node:fs/promises';
import { Document, isMap, isPair, isScalar, visit, type Scalar } from 'yaml';
import { parseStackText } from '../spec/load.ts';
import type { Stack } from '../spec/schema.ts';
import { ImportError, ImportProblems } from './errors.ts';
import { originOf, type StackDraft } from './stack-draft.ts';

/** The order keys are written in, as the examples write them; others follow. */
const SERVICE_KEY_ORDER = [
  'image',
  'run',
  'command',
  'entrypoint',
  'user',
  'replicas',
  'ports',
  'container_ports',
  'env',
  'env_files',
  'secret_files',
  'volumes',
  'networks',
  'depends_on',
  'health',
  'restart',
  'stop',
  'memory',
  'cpus',
  'read_only',
  'cap_drop',
];

function ordered(fields: Record<string, unknown>): Record<string, unknown> {
  const rank = (key: string) => {
    const index = SERVICE_KEY_ORDER.indexOf(key);
    return index < 0 ? SERVICE_KEY_ORDER.length : index;
  };
  return Object.fromEntries(Object.entries(fields).sort(([a], [b]) => rank(a) - rank(b)));
}

/** Short lists and small leaf mappings on one line (`command: [node, server.js]`). */
const FLOW_WIDTH = 72;
const FLOW_MAPS = new Set(['ports', 'container_ports', 'stop']);

export function renderStack(draft: StackDraft): string {
  const value: Record<string, unknown> = { name: draft.name };
  if (Object.keys(draft.networks).length > 0) value.networks = draft.networks;
  value.services = Object.fromEntries(
    draft.services.map((service) => [service.name, ordered(service.fields)]),
  );
  const document = new Document(value);
  document.commentBefore = [
    ` Imported by \`${draft.command}\` from ${draft.source}.`,
    ' Review what the import printed with it: keys it did not translate, services it left',
    ' out, suggested routes (commented out below) and the secrets to set before `up`.',
    ' No nodes are declared: the stack runs on one gateway node, "local"; add `nodes:` for more.',
  ].join('\n');
  visit(document, {
    Seq(_key, node) {
      // `[node, worker.js, --queue, default jobs]` would hide where a word ends.
      const words = node.items.every((item) => isScalar(item) && !/\s/.test(String(item.value)));
      if (words && JSON.stringify(node.toJSON()).length <= FLOW_WIDTH) node.flow = true;
    },
    Map(_key, node, path) {
      // `ports: {http: 3000}` and `backend: {internal: true}` on one line; env stays a block.
      const parent = path.at(-1);
      const key = isPair(parent) && isScalar(parent.key) ? String(parent.key.value) : '';
      const underNetworks = path.some(
        (ancestor) =>
          isPair(ancestor) && isScalar(ancestor.key) && ancestor.key.value === 'networks',
      );
      const leaf = node.items.every((pair) => isPair(pair) && isScalar(pair.value));
      const small =
        node.items.length <= 3 && JSON.stringify(node.toJSON()).length <= FLOW_WIDTH / 2;
      if (leaf && small && (FLOW_MAPS.has(key) || underNetworks)) node.flow = true;
    },
  });
  const services = document.get('services', true);
  if (isMap(services)) {
    services.flow = false;
    services.items.forEach((pair, index) => {
      const key = pair.key as Scalar;
      if (index > 0) key.spaceBefore = true;
      const service = draft.services[index];
      if (service && service.comments.length > 0)
        key.commentBefore = service.comments.map((line) => ` ${line}`).join('\n');
      if (isMap(pair.value)) pair.value.flow = false;
    });
  }
  return document.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** The stack the loader makes of `text`, or every problem it found, each at its source. */
export function checkStack(text: string, draft: StackDraft, label: string): Stack {
  const result = parseStackText(text, label);
  if (result.ok) return result.stack;
  const problems = result.diagnostics.map((diagnostic) => {
    const at = originOf(draft, diagnostic.path);
    const where = diagnostic.path.length > 0 ? ` (${diagnostic.path.join('.')})` : '';
    return new ImportError(`${diagnostic.message}${where}`, diagnostic.hint, at);
  });
  throw new ImportProblems(
    `the imported stack would not be valid (${problems.length} problem${problems.length === 1 ? '' : 's'}): nothing was written`,
    problems,
  );
}

/** Writes the stack file; an existing file is replaced only when `force` says so. */
export async function writeStackFile(file: string, text: string, force: boolean): Promise<void> {
  try {
    // `wx` creates the file or fails: no window between a check and the write.
    await writeFile(file, text, { flag: force ? 'w' : 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new ImportError(`${file} exists`, 'pass --force to replace it, or choose another -o');
    throw new ImportError(`cannot write ${file} (${code ?? String(error)})`);
  }
}
