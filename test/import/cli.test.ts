// The real `flotilla import` binary: the stack on stdout and the report on stderr, -o that
// never replaces a file without --force, exit 1 with file:line:col for a file that cannot
// be imported, exit 2 for bad usage, and never a stack trace.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStackText } from '../../src/spec/load.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';

const APP_STACK = path.resolve('test/import/compose/app-stack/docker-compose.yml');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'flotilla-import-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('flotilla import compose', () => {
  it('prints the stack to stdout and the report to stderr', async () => {
    const result = await flotilla(['import', 'compose', APP_STACK]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^# Imported by `flotilla import compose` from /);
    const loaded = parseStackText(result.stdout, 'flotilla.yml');
    expect(loaded.ok && Object.keys(loaded.stack.services)).toEqual([
      'web',
      'worker',
      'db',
      'cache',
    ]);
    expect(result.stderr).toContain(
      `${path.relative(process.cwd(), APP_STACK)}:31:7 not translated services.web.healthcheck.start_period`,
    );
    expect(result.stderr).toContain('POSTGRES_PASSWORD: flotilla secrets set POSTGRES_PASSWORD');
    expect(result.stderr).toContain('✓ imported');
    expect(result.stderr).not.toContain('s3cret-from-dotenv');
  });

  it('writes -o, and replaces it only with --force', async () => {
    const output = path.join(dir, 'flotilla.yml');
    const first = await flotilla(['import', 'compose', APP_STACK, '-o', output]);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('');
    const written = await readFile(output, 'utf8');
    expect(written).toContain('# Imported by `flotilla import compose` from ');
    // Paths are relative to where the stack file is written.
    const envFile = path.relative(dir, path.resolve('test/import/compose/app-stack/shop.env'));
    expect(written).toContain(`env_files: [${envFile}]`);
    await writeFile(output, 'name: mine\n');
    const again = await flotilla(['import', 'compose', APP_STACK, '-o', output]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${output} exists`);
    expect(again.stderr).toContain('hint: pass --force to replace it');
    expect(await readFile(output, 'utf8')).toBe('name: mine\n');
    const forced = await flotilla(['import', 'compose', APP_STACK, '-o', output, '--force']);
    expect(forced.code).toBe(0);
    expect(await readFile(output, 'utf8')).toBe(written);
  });

  it('a malformed file: exit 1 at its line and column, no stack trace', async () => {
    const file = path.join(dir, 'docker-compose.yml');
    await writeFile(file, 'services:\n  web:\n    image: nginx\n   ports: ["80:80"]\n');
    const result = await flotilla(['import', 'compose', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^${file}:4:\\d+ error YAML: `));
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
  });

  it('a stack the loader refuses is not written', async () => {
    const output = path.join(dir, 'refused.yml');
    const result = await flotilla([
      'import',
      'compose',
      'test/import/compose/dependency-cycle/docker-compose.yml',
      '-o',
      output,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'test/import/compose/dependency-cycle/docker-compose.yml:7:9 error dependency cycle: api → worker → api',
    );
    expect(result.stderr).toContain('nothing was written');
    await expect(readFile(output)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('bad usage: exit 2 with the usage', async () => {
    for (const args of [
      ['import'],
      ['import', 'compose'],
      ['import', 'kubernetes', 'x.yml'],
      ['import', 'compose', APP_STACK, '--env', 'production'],
      ['import', 'compose', APP_STACK, '--name', 'Not_A_Name'],
    ]) {
      const result = await flotilla(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain('usage: flotilla import compose FILE');
    }
  });
});

describe('flotilla import pm2', () => {
  it('imports an ecosystem file with --env', async () => {
    const result = await flotilla([
      'import',
      'pm2',
      'test/import/pm2/ecosystem.config.js',
      '--env',
      'production',
      '--name',
      'shop',
    ]);
    expect(result.code).toBe(0);
    const loaded = parseStackText(result.stdout, 'flotilla.yml');
    expect(loaded.ok && loaded.stack.name).toBe('shop');
    expect(loaded.ok && loaded.stack.services.api!.env.NODE_ENV).toBe('production');
    expect(result.stderr).toContain('cron_restart has no equivalent');
  });
});
