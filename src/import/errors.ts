// An import that cannot go on: a malformed source file, a variable Compose requires, a
// result the stack loader refuses. The message says where (file:line:col when known) and
// the hint what to do; the command prints both and exits 1, never a stack trace.
import type { SourcePos } from './report.ts';

export class ImportError extends Error {
  override readonly name = 'ImportError';

  constructor(
    message: string,
    readonly hint?: string,
    readonly at?: SourcePos,
  ) {
    super(message);
  }
}

/** Several problems at once (each a line of the report), e.g. the stack loader's findings. */
export class ImportProblems extends Error {
  override readonly name = 'ImportProblems';

  constructor(
    message: string,
    readonly problems: ImportError[],
  ) {
    super(message);
  }
}
