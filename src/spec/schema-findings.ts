// Turns zod's schema issues into findings phrased for a person editing YAML:
// the key path, what was expected, what was found, and a hint when one helps.
import type { z } from 'zod';
import type { Finding, PathSegment } from './diagnostic.ts';
import { didYouMean } from './suggest.ts';

type Issue = z.core.$ZodIssue;
type AnySchema = z.core.$ZodType;

/** The object keys a schema accepts at `path`, to suggest the one a typo meant. */
function keysAt(schema: AnySchema, path: PathSegment[]): string[] {
  let current: AnySchema | undefined = schema;
  const unwrap = () => {
    for (;;) {
      const def = current?._zod.def as
        { type: string; innerType?: AnySchema; in?: AnySchema } | undefined;
      if (def?.innerType) current = def.innerType;
      else if (def?.type === 'pipe' && def.in) current = def.in;
      else return;
    }
  };
  for (const segment of path) {
    unwrap();
    const def = current?._zod.def as
      | {
          type: string;
          shape?: Record<string, AnySchema>;
          valueType?: AnySchema;
          element?: AnySchema;
        }
      | undefined;
    if (def?.type === 'object') current = def.shape?.[String(segment)];
    else if (def?.type === 'record') current = def.valueType;
    else if (def?.type === 'array') current = def.element;
    else return [];
  }
  unwrap();
  const def = current?._zod.def as { type: string; shape?: Record<string, AnySchema> } | undefined;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

function valueAt(root: unknown, path: PathSegment[]): unknown {
  let value = root;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[segment as string];
  }
  return value;
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string')
    return `the string "${value.length > 40 ? value.slice(0, 37) + '...' : value}"`;
  return `${typeof value} ${String(value)}`;
}

export function dottedPath(path: PathSegment[]): string {
  return path
    .map((segment) => (typeof segment === 'number' ? `[${segment}]` : segment))
    .join('.')
    .replaceAll('.[', '[');
}

const EXPECTED_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

function missingKey(path: PathSegment[]): Finding {
  const key = String(path.at(-1));
  return { path, message: `missing required key \`${key}\``, hint: `add \`${key}:\` here` };
}

export function findingsFromIssues(
  issues: readonly Issue[],
  schema: AnySchema,
  root: unknown,
): Finding[] {
  return issues.flatMap((issue): Finding[] => {
    const path = issue.path.filter(
      (segment): segment is PathSegment => typeof segment !== 'symbol',
    );
    const where = path.length > 0 ? `\`${dottedPath(path)}\`: ` : '';
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = keysAt(schema, path);
        return issue.keys.map((key) => {
          const finding: Finding = {
            path: [...path, key],
            atKey: true,
            message: `unknown key \`${key}\`${path.length > 0 ? ` in \`${dottedPath(path)}\`` : ''}`,
            hint:
              didYouMean(key, known) ??
              (known.length > 0 ? `allowed here: ${known.join(', ')}` : undefined),
          };
          return finding;
        });
      }
      case 'invalid_type': {
        const found = valueAt(root, path);
        const expected = EXPECTED_NAMES[issue.expected] ?? issue.expected;
        if (found === undefined) return [missingKey(path)];
        return [{ path, message: `${where}expected ${expected}, found ${describeValue(found)}` }];
      }
      case 'invalid_value': {
        const found = valueAt(root, path);
        if (found === undefined) return [missingKey(path)];
        const options = issue.values.map(String);
        return [
          {
            path,
            message: `${where}${describeValue(found)} is not one of: ${options.join(', ')}`,
            hint: typeof found === 'string' ? didYouMean(found, options) : undefined,
          },
        ];
      }
      case 'too_small':
      case 'too_big': {
        return [{ path, message: `${where}${issue.message.replace(/^Too (small|big): /, '')}` }];
      }
      default:
        return [{ path, message: `${where}${issue.message}` }];
    }
  });
}
