// So `validate` can report schema problems and cross-reference problems in one run:
// remove the values the schema rejected and try again. Whole lists are removed rather
// than single items, so the indexes of the remaining findings still match the file.
import type { PathSegment } from './diagnostic.ts';

/** A deep copy of `value` without the subtrees at `paths`, or undefined if the root would go. */
export function pruneValue(
  value: unknown,
  paths: readonly PathSegment[][],
): { value: unknown; removed: PathSegment[][] } | undefined {
  const copy = structuredClone(value) as Record<string, unknown>;
  const removed: PathSegment[][] = [];
  for (const path of paths) {
    const firstIndex = path.findIndex((segment) => typeof segment === 'number');
    let target = firstIndex < 0 ? path : path.slice(0, firstIndex);
    if (!hasPath(copy, target)) target = target.slice(0, -1);
    if (target.length === 0) return undefined;
    const parent = walk(copy, target.slice(0, -1));
    if (parent !== null && typeof parent === 'object')
      delete (parent as Record<string, unknown>)[String(target.at(-1))];
    removed.push(target);
  }
  return { value: copy, removed };
}

function walk(value: unknown, path: readonly PathSegment[]): unknown {
  let current = value;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[String(segment)];
  }
  return current;
}

function hasPath(value: unknown, path: readonly PathSegment[]): boolean {
  const parent = walk(value, path.slice(0, -1));
  return (
    parent !== null && typeof parent === 'object' && Object.hasOwn(parent, String(path.at(-1)))
  );
}
