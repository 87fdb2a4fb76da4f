// The real `flotilla init`: the file it writes passes the real `flotilla validate`, it says
// what it found and what to run next, never replaces flotilla.yml without --force (exit 1,
// the file untouched), refuses bad usage with exit 2 and a source it cannot import with
// exit 1 at file:line:col, writing nothing.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flotilla } from '../helpers/flotilla-cli.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'flotilla-init-cli-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function project(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir);
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, file), text);
  return dir;
}

describe('flotilla init', () => {
  it('writes a stack from package.json that validate accepts, and says what to run next', async () => {
    const dir = await project('web', {
      'package.json': JSON.stringify({ name: 'web', scripts: { start: 'node server.js' } }),
      'server.js': "require('node:http').createServer().listen(process.env.PORT || 4000);\n",
    });
    const file = path.join(dir, 'flotilla.yml');
    const result = await flotilla(['init', '--dir', dir]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('package.json: start script "node server.js"');
    expect(result.stdout).toContain('port 4000 (server.js:1, read from PORT)');
    expect(result.stdout).toContain(`✓ wrote ${file}: stack web, 1 service`);
    expect(result.stdout).toContain(`  flotilla validate -f ${file}\n`);
    expect(result.stdout).toContain(`  flotilla up -f ${file}\n`);
    const written = await readFile(file, 'utf8');
    expect(written).toMatch(/^# yaml-language-server: \$schema=\.\/flotilla\.schema\.json\n/);
    const validate = await flotilla(['validate', '-f', file]);
    expect(validate.code).toBe(0);
    expect(validate.stdout).toContain('is valid: stack web, 1 service on 1 node');
  });

  it('replaces flotilla.yml only with --force', async () => {
    const dir = await project('mine', {});
    const file = path.join(dir, 'flotilla.yml');
    await writeFile(file, 'name: mine\n');
    const refused = await flotilla(['init', '--dir', dir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `flotilla init: ${file} exists: nothing was written\n` +
        'hint: pass --force to replace it, or edit it and run `flotilla validate`\n',
    );
    expect(await readFile(file, 'utf8')).toBe('name: mine\n');
    const forced = await flotilla(['init', '--dir', dir, '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('nothing to start from: wrote an example service to edit');
    expect(forced.stdout).toContain(`  edit ${file} (the example service)`);
    expect(await readFile(file, 'utf8')).toContain('# An example to edit');
  });

  it('imports a Compose file, its secrets as ${secret:NAME}, and says how to set them', async () => {
    const dir = await project('shop', {
      'compose.yaml': [
        'services:',
        '  web:',
        '    image: ghcr.io/acme/shop:1.4',
        "    ports: ['8080:3000']",
        '    environment:',
        '      DATABASE_URL: postgres://shop:${POSTGRES_PASSWORD}@db/shop',
        '',
      ].join('\n'),
    });
    const file = path.join(dir, 'flotilla.yml');
    const result = await flotilla(['init', '--dir', dir], { POSTGRES_PASSWORD: '' });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('compose.yaml: 1 service (Compose)');
    expect(result.stdout).toContain('suggestion services.web.routes');
    expect(result.stdout).toContain(`  flotilla secrets set POSTGRES_PASSWORD -f ${file}\n`);
    expect(await readFile(file, 'utf8')).toContain(
      'DATABASE_URL: postgres://shop:${secret:POSTGRES_PASSWORD}@db/shop',
    );
  });

  it('writes nothing from a source it cannot import, and says where the problem is', async () => {
    const dir = await project('cycle', {
      'docker-compose.yml': [
        'services:',
        '  a: { image: x, depends_on: [b] }',
        '  b: { image: y, depends_on: [a] }',
        '',
      ].join('\n'),
    });
    const result = await flotilla(['init', '--dir', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^flotilla init: the imported stack would not be valid \(1 problem\): nothing was written\n {2}\S+docker-compose\.yml:2:\d+ dependency cycle/,
    );
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(await readdir(dir)).toEqual(['docker-compose.yml']);
  });

  it('refuses an unknown flag with exit 2 and its usage, a missing --dir with exit 1', async () => {
    const [flag, dir] = await Promise.all([
      flotilla(['init', '--from', 'compose']),
      flotilla(['init', '--dir', path.join(root, 'missing')]),
    ]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--from'");
    expect(flag.stderr).toContain('usage: flotilla init [--dir DIR] [--name STACK] [--force]');
    expect(dir.code).toBe(1);
    expect(dir.stderr).toContain(`${path.join(root, 'missing')} is not a directory`);
  });
});
