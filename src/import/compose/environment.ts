// `environment:` (mapping or KEY=value list) and `env_file:` (a path, a list, or the long
// form with `required:`). Values are interpolated as Compose does, except secrets: a
// variable whose name says it holds one (POSTGRES_PASSWORD, API_TOKEN) becomes a
// `${secret:NAME}` reference, so no password from the file or its .env lands in the
// stack file; the report lists each secret to set. A `KEY` without a value takes the
// importer's environment, as Compose takes the shell's when it starts the container.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { escapeLiteral } from '../../spec/interpolation.ts';
import { isSecretName } from '../../spec/secret-name.ts';
import { secretName } from '../names.ts';
import { formatPos } from '../report.ts';
import { isSecretLike, isSwitchValue } from '../secret-like.ts';
import type { TemplatePart } from './interpolate.ts';
import type { ServiceState } from './service-state.ts';
import type { Node, Pos } from './tree.ts';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Variable {
  name: string;
  /** The written value; null for `KEY` alone. */
  value: Node | null;
  /** The value's text when it came from a KEY=value list item. */
  listText?: string;
  at: Pos;
}

function variables(state: ServiceState, node: Node, path: string): Variable[] {
  if (node.kind === 'map')
    return [...node.entries.values()].map((entry) => ({
      name: entry.key,
      value: entry.value.kind === 'scalar' && entry.value.value === null ? null : entry.value,
      at: entry.keyPos,
    }));
  if (node.kind === 'seq')
    return node.items.flatMap((item, index): Variable[] => {
      if (item.kind !== 'scalar' || typeof item.value !== 'string') {
        state.context.malformed(item.pos, `${path}[${index}]`, 'expected KEY=value');
        return [];
      }
      const equals = item.value.indexOf('=');
      if (equals < 0) return [{ name: item.value, value: null, at: item.pos }];
      return [
        {
          name: item.value.slice(0, equals),
          value: item,
          listText: item.value.slice(equals + 1),
          at: item.pos,
        },
      ];
    });
  state.context.malformed(node.pos, path, 'expected a mapping or a list of KEY=value');
  return [];
}

export function mapEnvironment(state: ServiceState): void {
  const entry = state.entry('environment');
  if (entry) {
    const path = state.path('environment');
    for (const variable of variables(state, entry.value, path)) {
      const variablePath = `${path}.${variable.name}`;
      if (!ENV_NAME.test(variable.name)) {
        state.context.note(
          'untranslated',
          variable.at,
          variablePath,
          `\`${variable.name}\` is not a variable name Flotilla accepts`,
          'names are letters, digits and underscores, not starting with a digit',
        );
        continue;
      }
      const value = envValue(state, variable, variablePath);
      if (value !== undefined) state.draft.setIn('env', variable.name, value, variable.at);
    }
  }
  mapEnvFiles(state);
}

function envValue(
  state: ServiceState,
  variable: Variable,
  path: string,
): string | number | boolean | undefined {
  const { context } = state;
  const { name, at } = variable;
  if (variable.value === null) return fromEnvironment(state, name, at, path);
  const node = variable.value;
  if (node.kind !== 'scalar') {
    context.malformed(node.pos, path, 'expected a string, number or boolean');
    return undefined;
  }
  const text = variable.listText ?? node.value;
  if (typeof text !== 'string') {
    if (!isSecretLike(name) || text === null || isSwitchValue(text)) return text ?? undefined;
    return literalSecret(state, name, node.pos, path);
  }
  const parts = context.parts(text, node.pos);
  const variablesUsed = parts.filter(
    (part): part is Extract<TemplatePart, { variable: string }> => 'variable' in part,
  );
  if (isSecretLike(name) && variablesUsed.length === 0 && text !== '' && !isSwitchValue(text))
    return literalSecret(state, name, node.pos, path);
  if (isSecretLike(name) && parts.length === 1 && variablesUsed.length === 1) {
    const reference = secretReference(state, variablesUsed[0]!, node.pos, path);
    if (reference !== undefined) return reference;
  }
  return parts
    .map((part) => {
      if ('text' in part) return escapeLiteral(part.text);
      if (isSecretLike(part.variable)) {
        const reference = secretReference(state, part, node.pos, path);
        if (reference !== undefined) return reference;
      }
      return escapeLiteral(state.context.resolve([part], node.pos, path));
    })
    .join('');
}

/** A secret written into the file as it is: moved to the secret store. */
function literalSecret(state: ServiceState, name: string, at: Pos, path: string): string {
  const secret = secretName(name);
  state.context.note(
    'changed',
    at,
    path,
    `the value looks like a secret: written as \${secret:${secret}}`,
  );
  state.context.report.needSecret(
    secret,
    `flotilla secrets set ${secret} (its value is written at ${formatPos(at)})`,
  );
  return `\${secret:${secret}}`;
}

/** `${DB_PASSWORD}` (any form) in a value → `${secret:DB_PASSWORD}`; undefined if the name cannot be one. */
function secretReference(
  state: ServiceState,
  part: Extract<TemplatePart, { variable: string }>,
  at: Pos,
  path: string,
): string | undefined {
  const name = part.variable;
  if (!isSecretName(name)) return undefined;
  const { variables, report } = state.context;
  const known = variables.get(name) !== undefined;
  const how = variables.inDotenv(name)
    ? `flotilla secrets set ${name} (its value is in ${dotenvName(variables.dotenvFile)}, which \`flotilla secrets import ${dotenvName(variables.dotenvFile)}\` imports whole)`
    : known
      ? `flotilla secrets set ${name} (its value is in your environment)`
      : `flotilla secrets set ${name} (it has no value here${part.operator === ':-' || part.operator === '-' ? '; Compose would use the default written in the file' : ''})`;
  report.needSecret(name, how);
  state.context.note(
    'changed',
    at,
    path,
    `\${${name}} holds a secret: written as \${secret:${name}}, not its value`,
  );
  return `\${secret:${name}}`;
}

function dotenvName(file: string | undefined): string {
  return file === undefined ? '.env' : path.relative(process.cwd(), file) || '.env';
}

/** `KEY` without a value: Compose passes the shell's value, if it has one. */
function fromEnvironment(
  state: ServiceState,
  name: string,
  at: Pos,
  path: string,
): string | undefined {
  const { context } = state;
  if (isSecretLike(name) && isSecretName(name)) {
    context.report.needSecret(
      name,
      `flotilla secrets set ${name} (Compose takes it from the environment it runs in)`,
    );
    context.note(
      'changed',
      at,
      path,
      `Compose takes ${name} from the environment it runs in; it looks like a secret: written as \${secret:${name}}`,
    );
    return `\${secret:${name}}`;
  }
  const value = context.variables.get(name);
  if (value === undefined) {
    context.note(
      'changed',
      at,
      path,
      `Compose takes ${name} from the environment it runs in (or the .env file), where it is not set here: left out`,
      `add it under env if the service needs it`,
    );
    return undefined;
  }
  context.note(
    'changed',
    at,
    path,
    `Compose takes ${name} from the environment it runs in (or the .env file): its value here is written into the stack`,
  );
  return escapeLiteral(value);
}

function mapEnvFiles(state: ServiceState): void {
  const entry = state.entry('env_file');
  if (!entry) return;
  const { context } = state;
  const where = state.path('env_file');
  const items = entry.value.kind === 'seq' ? entry.value.items : [entry.value];
  items.forEach((item, index) => {
    const itemPath = entry.value.kind === 'seq' ? `${where}[${index}]` : where;
    let written: string | undefined;
    let required = true;
    if (item.kind === 'map') {
      const pathNode = item.entries.get('path')?.value;
      written = pathNode && context.expectText(pathNode, `${itemPath}.path`, 'a path');
      const requiredNode = item.entries.get('required')?.value;
      if (requiredNode) required = context.bool(requiredNode, `${itemPath}.required`) ?? true;
      const format = item.entries.get('format');
      if (format)
        context.note(
          'untranslated',
          format.keyPos,
          `${itemPath}.format`,
          'Flotilla reads env files as KEY=value lines (quotes and comments allowed); there is no raw format',
          'check the file reads the same both ways',
        );
    } else {
      written = context.expectText(item, itemPath, 'a path');
    }
    if (written === undefined) return;
    const absolute = path.resolve(path.dirname(path.resolve(item.pos.file)), written);
    if (!existsSync(absolute)) {
      if (!required) {
        context.note(
          'changed',
          item.pos,
          itemPath,
          `${written} does not exist and is optional: left out`,
        );
        return;
      }
      context.note(
        'changed',
        item.pos,
        itemPath,
        `${written} does not exist here (Compose would stop); kept: the node reads it when the service starts`,
      );
    }
    state.draft.push('env_files', context.relocate(written, item.pos), item.pos);
  });
}
