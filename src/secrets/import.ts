// Secrets from the files people already have: a `.env` file, or the JSON that
// `doppler secrets download --no-file --format json` prints (a flat name → value object).
// The whole file is checked before anything is stored: a bad line or name imports nothing.
import { z } from 'zod';
import { EnvFileError, parseEnvFile } from '../system/env-file.ts';
import { isSecretName, SECRET_NAME_RULE } from '../spec/secret-name.ts';
import { SecretError } from './store.ts';

export type ImportFormat = 'dotenv' | 'doppler-json';

const dopplerSchema = z.record(z.string(), z.string());

/** The file's secrets by name; throws a SecretError naming the first problem. */
export function parseSecretsFile(
  text: string,
  file: string,
  format: ImportFormat,
): Map<string, string> {
  const entries = format === 'dotenv' ? parseDotenv(text, file) : parseDoppler(text, file);
  const bad = [...entries.keys()].filter((name) => !isSecretName(name));
  if (bad.length > 0)
    throw new SecretError(
      `${file}: bad secret name${bad.length === 1 ? '' : 's'} ${bad.map((name) => `"${name}"`).join(', ')} (a secret name is ${SECRET_NAME_RULE}); nothing was imported`,
    );
  return entries;
}

function parseDotenv(text: string, file: string): Map<string, string> {
  try {
    return new Map(Object.entries(parseEnvFile(text, file)));
  } catch (error) {
    if (!(error instanceof EnvFileError)) throw error;
    throw new SecretError(`${error.message}; nothing was imported`);
  }
}

function parseDoppler(text: string, file: string): Map<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SecretError(
      `${file} is not JSON (expected the output of \`doppler secrets download --no-file --format json\`)`,
    );
  }
  if (!dopplerSchema.safeParse(value).success)
    throw new SecretError(`${file}: expected a JSON object of NAME: "value" strings`);
  // From the JSON itself: zod's output silently leaves out a "__proto__" key.
  return new Map(Object.entries(value as Record<string, string>));
}
