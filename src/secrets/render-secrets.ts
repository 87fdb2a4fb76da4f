// Strings of the stack file that may hold `${secret:NAME}` (a webhook's secret, an alert
// channel's URL or token), rendered on the hub with the store's current values, only when
// they are needed and never kept. Undefined when a secret they name is not set.
import { references, renderTemplate } from '../spec/interpolation.ts';
import type { SecretStore } from './store.ts';

type SecretValues = Pick<SecretStore, 'values'>;

function secretNames(texts: Iterable<string>): Set<string> {
  const names = new Set<string>();
  for (const text of texts)
    for (const ref of references(text)) if (ref.kind === 'secret') names.add(ref.name);
  return names;
}

function render(text: string, values: ReadonlyMap<string, string>): string {
  return renderTemplate(text, (ref) => (ref.kind === 'secret' ? values.get(ref.name)! : ''));
}

export async function renderSecrets(
  template: string,
  secrets: SecretValues,
): Promise<string | undefined> {
  const names = secretNames([template]);
  const values = await secrets.values(names);
  return [...names].every((name) => values.has(name)) ? render(template, values) : undefined;
}

/** Every string inside `value` rendered; the names of unset secrets instead, if any. */
export async function renderSecretsDeep<T>(
  value: T,
  secrets: SecretValues,
): Promise<{ value: T } | { unset: string[] }> {
  const texts: string[] = [];
  const collect = (node: unknown): void => {
    if (typeof node === 'string') texts.push(node);
    else if (Array.isArray(node)) node.forEach(collect);
    else if (node !== null && typeof node === 'object') Object.values(node).forEach(collect);
  };
  collect(value);
  const names = secretNames(texts);
  const values = await secrets.values(names);
  const unset = [...names].filter((name) => !values.has(name));
  if (unset.length > 0) return { unset };
  const rendered = (node: unknown): unknown => {
    if (typeof node === 'string') return render(node, values);
    if (Array.isArray(node)) return node.map(rendered);
    if (node !== null && typeof node === 'object')
      return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, rendered(item)]));
    return node;
  };
  return { value: rendered(value) as T };
}
