// Shared by the importer tests: the ImportError an import attempt fails with; anything
// else (success, a crash) fails the test with what happened instead.
import { ImportError } from '../../src/import/errors.ts';

export async function importFailure(attempt: Promise<unknown>): Promise<ImportError> {
  const error = await attempt.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (error instanceof ImportError) return error;
  throw new Error(`expected an ImportError, got ${String(error)}`);
}
