// Secrets this machine's store lacks, wherever the stack file uses them: each use is pinned
// to its line and marked, so `validate` and `plan` can list them once as a warning and `up`
// can refuse. Backup targets and registries count like services.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackFile } from '../../src/spec/load.ts';

let dir: string;
let file: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-unset-secrets-'));
  file = path.join(dir, 'flotilla.yml');
  await writeFile(
    file,
    [
      'name: s',
      'services:',
      '  api:',
      '    run: { command: [node, server.js] }',
      '    env: { DB: "${secret:DB_PW}", AGAIN: "${secret:DB_PW}" }',
      '    secret_files: [TLS_KEY]',
      'backups:',
      '  targets:',
      '    r2:',
      '      repository: s3:https://r2.example.com/b',
      '      password: "${secret:RESTIC_PASSWORD}"',
      '      env: { AWS_ACCESS_KEY_ID: "${secret:R2_KEY}" }',
      'registries:',
      '  ghcr.io: { username: me, password: "${secret:GHCR_TOKEN}" }',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('unset secrets', () => {
  it('are found in services, secret files, backup targets and registries, each use at its line', async () => {
    const result = await loadStackFile(file, { knownSecrets: new Set(['TLS_KEY']) });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(
      result.diagnostics.map((diagnostic) => [
        diagnostic.line,
        diagnostic.unsetSecret,
        diagnostic.message,
      ]),
    ).toEqual([
      [5, 'DB_PW', 'secret DB_PW is not set for service `api`'],
      [5, 'DB_PW', 'secret DB_PW is not set for service `api`'],
      [11, 'RESTIC_PASSWORD', 'secret RESTIC_PASSWORD is not set for backup target `r2`'],
      [12, 'R2_KEY', 'secret R2_KEY is not set for backup target `r2`'],
      [14, 'GHCR_TOKEN', 'secret GHCR_TOKEN is not set for registry ghcr.io'],
    ]);
  });

  it('are not looked for when the store is not asked (a file read alone)', async () => {
    expect((await loadStackFile(file)).ok).toBe(true);
  });
});
