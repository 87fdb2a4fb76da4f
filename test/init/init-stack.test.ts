// What `flotilla init` makes of a directory (src/init/): the stack from a Compose or PM2
// file is exactly what `flotilla import` makes of it; a package.json gives one process
// service with its command and port; nothing gives an example. Every text carries the
// schema line, explains each key once and is a stack the loader accepts.
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { importCompose } from '../../src/import/compose/import-compose.ts';
import { importPm2 } from '../../src/import/pm2/import-pm2.ts';
import { SCHEMA_LINE } from '../../src/init/annotate.ts';
import { initStack, type InitResult } from '../../src/init/init-stack.ts';
import { parseStackText } from '../../src/spec/load.ts';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'flotilla-init-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

async function init(dir: string): Promise<InitResult> {
  const result = await initStack({
    dir,
    output: path.join(dir, 'flotilla.yml'),
    environment: {},
  });
  // What init returns is what the loader reads from the text it writes.
  const loaded = parseStackText(result.text, 'flotilla.yml');
  expect(loaded.ok && loaded.stack).toEqual(result.stack);
  expect(result.text.split('\n')[0]).toBe(`# ${SCHEMA_LINE}`);
  return result;
}

function service(result: InitResult) {
  const [only, ...others] = Object.values(result.stack.services);
  expect(others).toEqual([]);
  return only!;
}

const packageJson = (start?: string, name = 'shop') =>
  JSON.stringify({ name, ...(start === undefined ? {} : { scripts: { start } }) });

describe('init from a package.json', () => {
  it('runs a node start script as argv, its --port as ${port}', async () => {
    const dir = await project({ 'package.json': packageJson('node server.js --port 4000') });
    const result = await init(dir);
    expect(Object.keys(result.stack.services)).toEqual(['shop']);
    expect(service(result)).toMatchObject({
      run: { command: ['node', 'server.js', '--port', '${port}'] },
      ports: { http: 4000 },
      env: { NODE_ENV: 'production' },
    });
    expect(service(result).env).not.toHaveProperty('PORT');
    expect(result.found).toEqual([
      'package.json: start script "node server.js --port 4000"',
      'port 4000 (the start script)',
    ]);
  });

  it('reads the port from the entry file, and gives PORT when the app reads it', async () => {
    const dir = await project({
      'package.json': packageJson('node index.js', '@acme/api'),
      'index.js':
        "const port = process.env.PORT ?? 8080;\nrequire('http').createServer().listen(port);\n",
    });
    const result = await init(dir);
    expect(result.stack.services.api).toMatchObject({
      ports: { http: 8080 },
      env: { PORT: '${port}' },
    });
    expect(result.found).toContain('port 8080 (index.js:1, read from PORT)');
  });

  it('turns variables before the command into env, secrets into ${secret:NAME}', async () => {
    const dir = await project({
      'package.json': packageJson('PORT=5000 LOG_LEVEL=info API_SECRET=hunter2 node app.js'),
    });
    const result = await init(dir);
    expect(service(result)).toMatchObject({
      run: { command: ['node', 'app.js'] },
      ports: { http: 5000 },
      env: { PORT: '${port}', LOG_LEVEL: 'info', API_SECRET: '${secret:API_SECRET}' },
    });
    expect(result.text).not.toContain('hunter2');
    expect([...result.report.secrets.keys()]).toEqual(['API_SECRET']);
  });

  it('takes .env: secrets and URLs with a password as ${secret:NAME}, the rest as written', async () => {
    const dir = await project({
      'package.json': packageJson('node app.js'),
      '.env': [
        'PORT=4500',
        'LOG_LEVEL=debug',
        'STRIPE_SECRET_KEY=sk_live_123',
        'DATABASE_URL=postgres://shop:pa55@db:5432/shop',
        'ALLOW_EMPTY_PASSWORD=yes',
        '',
      ].join('\n'),
    });
    const result = await init(dir);
    expect(service(result)).toMatchObject({
      ports: { http: 4500 },
      env: {
        PORT: '${port}',
        LOG_LEVEL: 'debug',
        STRIPE_SECRET_KEY: '${secret:STRIPE_SECRET_KEY}',
        DATABASE_URL: '${secret:DATABASE_URL}',
        ALLOW_EMPTY_PASSWORD: 'yes',
      },
    });
    expect(result.text).not.toMatch(/sk_live|pa55/);
    expect(result.found).toContain('.env: 5 variables');
    expect(result.report.secrets.get('DATABASE_URL')).toContain('flotilla secrets import .env');
  });

  it('runs npm start for a script that is not node, and says the port is a guess', async () => {
    const dir = await project({ 'package.json': packageJson('next build && next start') });
    const result = await init(dir);
    expect(service(result)).toMatchObject({
      run: { command: ['npm', 'start'] },
      ports: { http: 3000 },
      env: { PORT: '${port}' },
    });
    expect(result.text).toContain('# Runs `npm start` (package.json: "next build && next start")');
    expect(result.text).toContain('3000 is a guess');
    expect(result.found).toContain('no port (3000 written: check it)');
  });

  it('says a port the npm start script sets itself is fixed', async () => {
    const dir = await project({ 'package.json': packageJson('PORT=4300 next start') });
    const result = await init(dir);
    expect(service(result)).toMatchObject({
      run: { command: ['npm', 'start'] },
      ports: { http: 4300 },
    });
    expect(service(result).env).not.toHaveProperty('PORT');
    expect(result.text).toContain(
      '# The app listens on 4300 whatever PORT says (the start script)',
    );
  });

  it('runs server.js without a start script, as npm does, and flags a fixed port', async () => {
    const dir = await project({
      'package.json': packageJson(),
      'server.js': "require('http').createServer().listen(3000);\n",
    });
    const result = await init(dir);
    expect(service(result)).toMatchObject({
      run: { command: ['node', 'server.js'] },
      ports: { http: 3000 },
    });
    expect(service(result).env).not.toHaveProperty('PORT');
    expect(result.text).toContain('# The app listens on 3000 whatever PORT says (server.js:1)');
  });

  it('refuses a package.json npm would refuse', async () => {
    const dir = await project({ 'package.json': '{"scripts": {"start": 1}}' });
    await expect(initStack({ dir, output: 'flotilla.yml', environment: {} })).rejects.toThrow(
      'scripts.start must be a string',
    );
  });
});

describe('init with nothing to start from', () => {
  it('writes an example service that says what to edit', async () => {
    const dir = await project({ 'package.json': packageJson() });
    const result = await init(dir);
    expect(result.from).toBe('none');
    expect(service(result)).toMatchObject({ run: { command: ['node', 'server.js'] } });
    expect(result.text).toContain('# An example to edit');
    expect(result.found).toContain(
      'package.json: no start script and no server.js, so nothing to start',
    );
    // Named after the directory, as Compose names a project.
    expect(result.stack.name).toBe(path.basename(dir).toLowerCase());
  });

  it('explains each key once, and ends with routes and secrets to add', async () => {
    const result = await init(await project({}));
    for (const key of ['name', 'services', 'run', 'ports', 'env'])
      expect(result.text.match(new RegExp(`^ *# ${key}: `, 'gm'))).toHaveLength(1);
    expect(result.text).toContain('#   routes: [{ host: app.example.com }]');
    expect(result.text).toContain('#   flotilla secrets set API_KEY');
  });
});

describe('init from files `flotilla import` reads', () => {
  it('makes of a Compose project what import compose makes, and leaves the ecosystem file aside', async () => {
    const dir = await project({});
    await cp(path.resolve('test/import/compose/app-stack'), dir, { recursive: true });
    await cp(path.resolve('test/import/pm2/ecosystem.json'), path.join(dir, 'ecosystem.json'));
    const result = await init(dir);
    const imported = await importCompose({
      file: path.join(dir, 'docker-compose.yml'),
      output: path.join(dir, 'flotilla.yml'),
      environment: {},
    });
    expect(result.stack).toEqual(imported.stack);
    expect(result.report.notes).toEqual(imported.report.notes);
    expect(result.from).toBe('docker-compose.yml (Compose)');
    expect(result.found).toEqual([
      'docker-compose.yml: 4 services (Compose)',
      'ecosystem.json: not used (init starts from one file); import it with `flotilla import pm2 ecosystem.json`',
    ]);
    // The importer's suggested routes stay, above their service.
    expect(result.text).toContain('# Suggested routes');
    expect(result.text).toContain('# image: the container image to run');
  });

  it('makes of a PM2 ecosystem file what import pm2 makes', async () => {
    const dir = await project({});
    await cp(path.resolve('test/import/pm2/ecosystem.json'), path.join(dir, 'ecosystem.json'));
    const result = await init(dir);
    const imported = await importPm2({
      file: path.join(dir, 'ecosystem.json'),
      output: path.join(dir, 'flotilla.yml'),
    });
    expect(result.stack).toEqual(imported.stack);
    expect(result.found).toEqual(['ecosystem.json: 1 app (PM2)']);
    expect(result.text).not.toContain('t0ken');
  });
});
