// The variables a Compose file is interpolated with, found as Compose finds them: the
// `.env` file in the project directory (beside the first Compose file), overridden by the
// environment the importer runs in.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EnvFileError, parseEnvFile } from '../../system/env-file.ts';
import { ImportError } from '../errors.ts';
import type { Variables } from './interpolate.ts';

export class ComposeVariables implements Variables {
  private readonly values: Map<string, string>;
  private readonly fromDotenv = new Set<string>();

  constructor(
    dotenv: Record<string, string>,
    environment: Readonly<Record<string, string | undefined>>,
    /** The `.env` file read, if there was one: said in notes about where values came from. */
    readonly dotenvFile?: string,
  ) {
    this.values = new Map(Object.entries(dotenv));
    for (const name of this.values.keys()) this.fromDotenv.add(name);
    for (const [name, value] of Object.entries(environment)) {
      if (value === undefined) continue;
      this.values.set(name, value);
      this.fromDotenv.delete(name);
    }
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  /** Whether `name`'s value comes from `.env` (to say `flotilla secrets import .env`). */
  inDotenv(name: string): boolean {
    return this.fromDotenv.has(name);
  }
}

/** The project directory's `.env` (none is fine) overridden by `environment`. */
export async function loadVariables(
  projectDir: string,
  environment: Readonly<Record<string, string | undefined>>,
): Promise<ComposeVariables> {
  const file = path.join(projectDir, '.env');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') return new ComposeVariables({}, environment);
    throw new ImportError(`${file}: cannot read it (${code})`);
  }
  try {
    return new ComposeVariables(parseEnvFile(text, file), environment, file);
  } catch (error) {
    if (!(error instanceof EnvFileError)) throw error;
    throw new ImportError(
      error.message,
      'Compose reads this .env beside the Compose file: each line is KEY=value or a # comment',
    );
  }
}
