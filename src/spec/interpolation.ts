// `${…}` references inside stack-file strings: secrets, other services' addresses and the
// service's own port and data directory. Parsing is separate from resolving so validate
// can check every reference and plan can render them without duplicating the grammar.
import { isSecretName, SECRET_NAME_RULE } from './secret-name.ts';
import { closest } from './suggest.ts';

export type Reference =
  | { kind: 'secret'; name: string }
  | { kind: 'service'; service: string; field: 'host' | 'port' | 'address'; port?: string }
  | { kind: 'self'; field: 'port' | 'data' | 'node' | 'instance'; port?: string };

export type Part = { text: string } | { ref: Reference; source: string };

export class InterpolationError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

const SERVICE_FIELDS = ['host', 'port', 'address'];
const SELF_FIELDS = ['port', 'data', 'node', 'instance'];

/** Splits `text` into literal parts and references; `$${` is a literal `${`. */
export function parseTemplate(text: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let index = 0;
  while (index < text.length) {
    if (text.startsWith('$${', index)) {
      literal += '${';
      index += 3;
    } else if (text.startsWith('${', index)) {
      const end = text.indexOf('}', index + 2);
      if (end < 0) {
        throw new InterpolationError(
          `unterminated \`\${\` in "${text}"`,
          'close it with `}`, or write `$${` for a literal `${`',
        );
      }
      const source = text.slice(index + 2, end);
      if (literal !== '') parts.push({ text: literal });
      literal = '';
      parts.push({ ref: parseReference(source), source });
      index = end + 1;
    } else {
      literal += text[index];
      index += 1;
    }
  }
  if (literal !== '') parts.push({ text: literal });
  return parts;
}

function parseReference(source: string): Reference {
  const trimmed = source.trim();
  const colon = trimmed.indexOf(':');
  if (colon >= 0) {
    const scheme = trimmed.slice(0, colon);
    const name = trimmed.slice(colon + 1);
    if (scheme !== 'secret') {
      const suggestion = closest(scheme, ['secret']);
      throw new InterpolationError(
        `unknown reference \`\${${source}}\`: \`${scheme}:\` is not a reference kind`,
        suggestion
          ? `did you mean \`\${secret:${name}}\`?`
          : 'secrets are written `${secret:NAME}`',
      );
    }
    if (!isSecretName(name)) {
      throw new InterpolationError(
        `bad secret name in \`\${${source}}\``,
        `a secret name is ${SECRET_NAME_RULE}`,
      );
    }
    return { kind: 'secret', name };
  }
  const segments = trimmed.split('.');
  const [head, second, third, extra] = segments;
  if (
    head === undefined ||
    head === '' ||
    extra !== undefined ||
    segments.some((segment) => segment === '')
  ) {
    throw badReference(source);
  }
  if (segments.length === 1 || (head === 'port' && segments.length === 2)) {
    if (!SELF_FIELDS.includes(head)) throw badReference(source, head);
    if (head !== 'port' && second !== undefined) throw badReference(source);
    const reference: Reference = {
      kind: 'self',
      field: head as 'port' | 'data' | 'node' | 'instance',
    };
    if (second !== undefined) reference.port = second;
    return reference;
  }
  if (second === undefined || !SERVICE_FIELDS.includes(second)) {
    const suggestion = second === undefined ? undefined : closest(second, SERVICE_FIELDS);
    throw new InterpolationError(
      `unknown reference \`\${${source}}\``,
      suggestion
        ? `did you mean \`\${${head}.${suggestion}}\`?`
        : 'a service is referenced as ${name.host}, ${name.port}, ${name.port.<port>} or ${name.address}',
    );
  }
  if (third !== undefined && second !== 'port') throw badReference(source);
  const reference: Reference = {
    kind: 'service',
    service: head,
    field: second as 'host' | 'port' | 'address',
  };
  if (third !== undefined) reference.port = third;
  return reference;
}

function badReference(source: string, word?: string): InterpolationError {
  const looksLikeSecret = word !== undefined && /^[A-Z][A-Z0-9_]+$/.test(word);
  return new InterpolationError(
    `unknown reference \`\${${source}}\``,
    looksLikeSecret
      ? `for a secret write \`\${secret:${word}}\`; for a literal \`\${\` write \`$\${\``
      : 'use ${secret:NAME}, ${service.host}, ${service.port[.name]}, ${service.address}, ${port[.name]}, ${data}, ${node} or ${instance}',
  );
}

export function references(text: string): Reference[] {
  return parseTemplate(text).flatMap((part) => ('ref' in part ? [part.ref] : []));
}

/** Writes literal text so that parseTemplate reads it back unchanged. */
export function escapeLiteral(text: string): string {
  // A function replacement: in a replacement string `$$` would collapse to `$`.
  return text.replaceAll('${', () => '$${');
}

/**
 * Renders a template, asking `resolve` for each reference's text. With `keepTemplate`,
 * literal `${` stays escaped, so the result is itself a template (the agent renders the
 * secrets left in it).
 */
export function renderTemplate(
  text: string,
  resolve: (ref: Reference) => string,
  keepTemplate = false,
): string {
  return parseTemplate(text)
    .map((part) =>
      'ref' in part ? resolve(part.ref) : keepTemplate ? escapeLiteral(part.text) : part.text,
    )
    .join('');
}
