// Names from other tools made into the names a stack file accepts: services, networks and
// stacks are DNS labels (lowercase, digits, hyphens), ports short lowercase words,
// secrets the secret-name rule of src/spec/secret-name.ts.
import { NAME } from '../spec/schema.ts';
import { isSecretName } from '../spec/secret-name.ts';

/** `My_App.web` → `my-app-web`; `prefix` goes before a name that does not start with a letter. */
export function dnsName(text: string, prefix: string): string {
  let name = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  if (!/^[a-z]/.test(name)) name = name === '' ? prefix : `${prefix}-${name}`;
  name = name.slice(0, 63).replace(/-$/, '');
  return NAME.test(name) ? name : prefix;
}

/** `name`, or `name-2`, `name-3`… when it is taken; the result is added to `taken`. */
export function unique(name: string, taken: Set<string>, maxLength = 63, separator = '-'): string {
  let candidate = name;
  for (let n = 2; taken.has(candidate); n++) {
    const suffix = `${separator}${n}`;
    candidate = `${name.slice(0, maxLength - suffix.length)}${suffix}`;
  }
  taken.add(candidate);
  return candidate;
}

/** `db-password` → `DB_PASSWORD` (letters, digits, underscores; one leading underscore at most). */
export function secretName(text: string): string {
  let name = text
    .toUpperCase()
    .replace(/[^A-Z0-9_]+/g, '_')
    .replace(/^_+/, '_');
  if (/^[0-9]/.test(name)) name = `_${name}`;
  name = name.slice(0, 128);
  return isSecretName(name) ? name : 'SECRET';
}

const PORT_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/** A port name from free text (a Compose port's `name:`), or undefined when nothing fits. */
export function portName(text: string): string | undefined {
  const name = text
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 32);
  return PORT_NAME.test(name) ? name : undefined;
}
