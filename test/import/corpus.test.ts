// bench/import-corpus.ts, run as anyone runs it: over the corpus of real-world-shaped
// Compose files in test/import/corpus, and over a directory with files that cannot be
// imported. Nothing may crash; what fails says why.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

async function bench(dir: string): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'bench/import-corpus.ts', dir, '--verbose'],
      {
        timeout: 120_000,
      },
    );
    return { code: 0, stdout };
  } catch (error) {
    const failure = error as { code: number; stdout: string };
    return { code: failure.code, stdout: failure.stdout };
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'flotilla-import-corpus-'));
  const file = async (name: string, text: string) => {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  };
  await file('ok/compose.yaml', 'services:\n  app:\n    image: ghcr.io/acme/app:1\n');
  await file('tabs/docker-compose.yml', 'services:\n\tapp:\n\t\timage: nginx\n');
  await file('binary/docker-compose.yml', '\u0000\u0001\u0002 not yaml at all');
  await file('list/docker-compose.dev.yml', '- just\n- a list\n');
  await file('node_modules/pkg/docker-compose.yml', 'not: [read');
  await file('notes.yml', 'not a compose file: [');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bench/import-corpus', () => {
  it('imports the test corpus without a crash', async () => {
    const { code, stdout } = await bench('test/import/corpus');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^files\s+imported\s+failed \(clear message\)\s+crashed/m);
    expect(stdout).toMatch(/^17\s+17\s+0\s+0\s/m);
    expect(stdout).toContain('imported  nextcloud/docker-compose.yml: 4 services');
    // Images on 80 and two services on one port: published elsewhere (container_ports).
    for (const stack of ['wordpress', 'pihole', 'minio'])
      expect(stdout).toContain(`imported  ${stack}/docker-compose.yml`);
    expect(stdout).toContain('Goal (0 crashed): PASS');
  });

  it('counts files that cannot be imported as failed, each with its reason', async () => {
    const { code, stdout } = await bench(dir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^4\s+1\s+3\s+0\s/m);
    expect(stdout).toMatch(/failed {4}tabs\/docker-compose.yml: YAML: /);
    expect(stdout).toContain('failed    list/docker-compose.dev.yml: a Compose file is a mapping');
    expect(stdout).not.toContain('node_modules');
  });
});
