// Secrets from the files people already have: a `.env` file, or the JSON that
// `doppler secrets download --no-file --format json` prints (a flat name → value object).
import { z } from 'zod';
import { parseEnvFile } from '../agent/env-file.ts';
import { SecretError } from './store.ts';

export type ImportFormat = 'dotenv' | 'doppler-json';

const dopplerSchema = z.record(z.string(), z.string());

export function parseSecretsFile(
  text: string,
  file: string,
  format: ImportFormat,
): Record<string, string> {
  if (format === 'dotenv') return parseEnvFile(text, file);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SecretError(
      `${file} is not JSON (expected the output of \`doppler secrets download --no-file --format json\`)`,
    );
  }
  const parsed = dopplerSchema.safeParse(value);
  if (!parsed.success)
    throw new SecretError(`${file}: expected a JSON object of NAME: "value" strings`);
  return parsed.data;
}
