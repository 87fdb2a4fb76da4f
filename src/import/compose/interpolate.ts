// Compose's variable syntax in values: `$VAR`, `${VAR}`, `${VAR:-default}` (unset or
// empty), `${VAR-default}` (unset), `${VAR:?message}` / `${VAR?message}` (required),
// `${VAR:+alternative}` / `${VAR+alternative}`, `$$` for a literal `$`; defaults may nest
// (`${A:-${B}}`). A `$` followed by anything else is an error, as in Compose. Parsing is
// apart from resolving: environment values turn secret-looking variables into Flotilla
// `${secret:NAME}` references instead of their values (see environment.ts).

type Operator = ':-' | '-' | ':?' | '?' | ':+' | '+';

export type TemplatePart =
  { text: string } | { variable: string; operator?: Operator; argument?: TemplatePart[] };

export class TemplateError extends Error {
  override readonly name = 'TemplateError';

  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const OPERATORS: Operator[] = [':-', ':?', ':+', '-', '?', '+'];
const ESCAPE_HINT = 'write $$ for a literal $ (Compose reads every other $ as a variable)';

export function parseComposeTemplate(text: string): TemplatePart[] {
  const [parts, end] = parseFrom(text, 0, false);
  if (end !== text.length) throw new TemplateError(`unexpected } in "${text}"`, ESCAPE_HINT);
  return parts;
}

/** Parts from `start` up to the end, or up to the `}` closing a default when `nested`. */
function parseFrom(text: string, start: number, nested: boolean): [TemplatePart[], number] {
  const parts: TemplatePart[] = [];
  let literal = '';
  let index = start;
  const flush = () => {
    if (literal !== '') parts.push({ text: literal });
    literal = '';
  };
  while (index < text.length) {
    const char = text[index]!;
    if (nested && char === '}') break;
    if (char !== '$') {
      literal += char;
      index += 1;
      continue;
    }
    const next = text[index + 1];
    if (next === '$') {
      literal += '$';
      index += 2;
      continue;
    }
    if (next === '{') {
      flush();
      const [part, end] = parseBraced(text, index + 2);
      parts.push(part);
      index = end;
      continue;
    }
    const name = NAME.exec(text.slice(index + 1))?.[0];
    if (name === undefined)
      throw new TemplateError(`invalid interpolation: a lone $ in "${text}"`, ESCAPE_HINT);
    flush();
    parts.push({ variable: name });
    index += 1 + name.length;
  }
  flush();
  return [parts, index];
}

/** `${…}` after its `${`: the part and the index after its closing `}`. */
function parseBraced(text: string, start: number): [TemplatePart, number] {
  const name = NAME.exec(text.slice(start))?.[0];
  if (name === undefined)
    throw new TemplateError(
      `invalid interpolation in "${text}": \${ must be followed by a variable name`,
      ESCAPE_HINT,
    );
  let index = start + name.length;
  if (index >= text.length)
    throw new TemplateError(`unterminated \${ in "${text}"`, 'close it with }');
  if (text[index] === '}') return [{ variable: name }, index + 1];
  const operator = OPERATORS.find((candidate) => text.startsWith(candidate, index));
  if (operator === undefined)
    throw new TemplateError(
      `invalid interpolation in "${text}": unexpected "${text[index] ?? 'end of text'}" after \${${name}`,
      'write ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error} or ${NAME:+alternative}',
    );
  index += operator.length;
  const [argument, end] = parseFrom(text, index, true);
  if (text[end] !== '}')
    throw new TemplateError(`unterminated \${ in "${text}"`, 'close it with }');
  return [{ variable: name, operator, argument }, end + 1];
}

export interface Variables {
  get(name: string): string | undefined;
}

/** A required variable (`${VAR:?message}`) that has no value. */
export class MissingVariableError extends Error {
  override readonly name = 'MissingVariableError';

  constructor(
    readonly variable: string,
    readonly detail: string,
  ) {
    super(`required variable ${variable} is missing a value${detail === '' ? '' : `: ${detail}`}`);
  }
}

/**
 * The text of `parts` with every variable replaced. `unset` hears of each variable used
 * without a value and without a default (Compose uses an empty string and warns).
 */
export function resolveTemplate(
  parts: TemplatePart[],
  variables: Variables,
  unset: (name: string) => void = () => {},
): string {
  return parts.map((part) => resolvePart(part, variables, unset)).join('');
}

function resolvePart(
  part: TemplatePart,
  variables: Variables,
  unset: (name: string) => void = () => {},
): string {
  if ('text' in part) return part.text;
  const value = variables.get(part.variable);
  const empty = value === undefined || value === '';
  const argument = () => resolveTemplate(part.argument ?? [], variables, unset);
  switch (part.operator) {
    case undefined:
      if (value === undefined) unset(part.variable);
      return value ?? '';
    case ':-':
      return empty ? argument() : value;
    case '-':
      return value === undefined ? argument() : value;
    case ':?':
      if (empty) throw new MissingVariableError(part.variable, argument());
      return value;
    case '?':
      if (value === undefined) throw new MissingVariableError(part.variable, argument());
      return value;
    case ':+':
      return empty ? '' : argument();
    case '+':
      return value === undefined ? '' : argument();
  }
}
