// Where a running hub's API is and the token to use it: a 0600 file in the state dir,
// written by the hub at start and read by the CLI.
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

const endpointSchema = z.object({ url: z.url(), token: z.string().min(32), pid: z.number().int() });
export type ApiEndpoint = z.infer<typeof endpointSchema>;

export function endpointFile(stateDir: string): string {
  return path.join(stateDir, 'hub', 'api.json');
}

export function newApiToken(): string {
  return randomBytes(32).toString('base64url');
}

export async function writeEndpoint(stateDir: string, endpoint: ApiEndpoint): Promise<void> {
  await writeFile(endpointFile(stateDir), JSON.stringify(endpoint), { mode: 0o600 });
}

export async function removeEndpoint(stateDir: string): Promise<void> {
  await rm(endpointFile(stateDir), { force: true });
}

/** The endpoint of a hub that was started for this state dir, if its file is readable. */
export async function readEndpoint(stateDir: string): Promise<ApiEndpoint | undefined> {
  try {
    const parsed = endpointSchema.safeParse(
      JSON.parse(await readFile(endpointFile(stateDir), 'utf8')),
    );
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
