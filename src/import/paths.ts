// A path written in an imported file, rewritten for the stack file: relative paths in a
// stack file are relative to its own directory, so `./data` beside a Compose file in
// another directory becomes `../app/data`. Absolute paths stay as they are.
import path from 'node:path';

/** `written` (relative to `fromDir`) as a path relative to `outputDir`, `./` for clarity. */
export function relocatePath(written: string, fromDir: string, outputDir: string): string {
  if (path.isAbsolute(written)) return written;
  const relative = path.relative(outputDir, path.resolve(fromDir, written));
  if (relative === '') return '.';
  if (path.isAbsolute(relative)) return relative;
  return relative.startsWith('..') ? relative : `./${relative}`;
}
