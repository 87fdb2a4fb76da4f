// `flotilla import pm2` on ecosystem files written for these tests (JavaScript evaluated
// in a locked-down child process, JSON parsed), and on the file the operator of the
// single-vps-pm2-caddy write-up would have had, compared with that example's stack.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importFailure } from './import-failure.ts';
import type { ImportError } from '../../src/import/errors.ts';
import { importPm2, type Pm2ImportOptions } from '../../src/import/pm2/import-pm2.ts';
import type { Note } from '../../src/import/report.ts';
import { loadStackFile, parseStackText } from '../../src/spec/load.ts';
import type { Stack } from '../../src/spec/schema.ts';

const FIXTURES = path.resolve('test/import/pm2');

async function imported(file: string, options: Partial<Pm2ImportOptions> = {}) {
  const result = await importPm2({
    file: path.join(FIXTURES, file),
    output: path.join(FIXTURES, 'flotilla.yml'),
    ...options,
  });
  const loaded = parseStackText(result.text, 'flotilla.yml');
  if (!loaded.ok) throw new Error(loaded.diagnostics.map((d) => d.message).join('\n'));
  return {
    stack: loaded.stack,
    text: result.text,
    notes: result.report.notes,
    secrets: result.report.secrets,
  };
}

function noteAbout(notes: Note[], notePath: string): Note {
  const found = notes.find((note) => note.path === notePath);
  if (!found)
    throw new Error(`no note about ${notePath}:\n${notes.map((note) => note.path).join('\n')}`);
  return found;
}

function failure(file: string, options: Partial<Pm2ImportOptions> = {}): Promise<ImportError> {
  return importFailure(imported(file, options));
}

describe('a JavaScript ecosystem file', () => {
  it('makes each app a process service: interpreter, arguments, cwd, instances, PORT', async () => {
    const { stack } = await imported('ecosystem.config.js');
    expect(stack.name).toBe('pm2');
    expect(Object.keys(stack.services)).toEqual(['api', 'queue-worker', 'report']);
    expect(stack.services.api).toMatchObject({
      run: {
        command: [
          'node',
          '--max-old-space-size=512',
          'dist/server.js',
          '--trust-proxy',
          'x-forwarded-for',
        ],
        cwd: './api',
      },
      replicas: 4,
      ports: { http: 3000 },
      env: { NODE_ENV: 'development', PORT: '${port}' },
      stop: { timeout: '8s' },
      restart: 'always',
    });
    expect(stack.services['queue-worker']).toMatchObject({
      run: { command: ['node', 'worker.mjs'], cwd: './api' },
      replicas: 1,
      restart: 'never',
    });
    expect(stack.services.report).toMatchObject({
      run: { command: ['python3', 'report.py', '--daily'], cwd: '.' },
      restart: 'on-failure',
    });
  });

  it('puts env_production over env only with --env production', async () => {
    const production = await imported('ecosystem.config.js', { env: 'production' });
    expect(production.stack.services.api!.env).toMatchObject({
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
    });
    const plain = await imported('ecosystem.config.js');
    expect(plain.stack.services.api!.env.LOG_LEVEL).toBeUndefined();
    expect(noteAbout(plain.notes, 'apps[0] (api).env_production').hint).toBe(
      'pass --env production to import it over env',
    );
  });

  it('runs the file without the caller’s environment; secrets become ${secret:} references', async () => {
    const { stack, text, notes, secrets } = await imported('ecosystem.config.js');
    const env = stack.services.api!.env;
    // Read from process.env when PM2 loads the file: not there for the import.
    expect(env.DATABASE_URL).toBeUndefined();
    expect(noteAbout(notes, 'apps[0] (api).env.DATABASE_URL').message).toContain('left out');
    expect(env.STRIPE_SECRET_KEY).toBe('${secret:STRIPE_SECRET_KEY}');
    expect(env.SESSION_SECRET).toBe('${secret:SESSION_SECRET}');
    expect(text).not.toContain('not-so-secret');
    expect(stack.services.report!.env.HOME_DIR).toBeUndefined();
    expect([...secrets.keys()]).toEqual(['STRIPE_SECRET_KEY', 'SESSION_SECRET']);
  });

  it('lists each option it does not translate, and the deploy section', async () => {
    const { notes } = await imported('ecosystem.config.js');
    const untranslated = notes
      .filter((note) => note.kind === 'untranslated')
      .map((note) => note.path);
    expect(untranslated).toEqual([
      'deploy',
      'apps[0] (api).env_production',
      'apps[0] (api).max_memory_restart',
      'apps[1] (Queue Worker).instances',
      'apps[1] (Queue Worker).cron_restart',
      'apps[1] (Queue Worker).watch',
      'apps[1] (Queue Worker).error_file',
      'apps[2] (report).restart_dely',
    ]);
    expect(noteAbout(notes, 'apps[1] (Queue Worker).cron_restart').hint).toContain(
      'flotilla restart',
    );
    expect(noteAbout(notes, 'apps[2] (report).restart_dely').hint).toBe(
      'did you mean `restart_delay`?',
    );
    expect(noteAbout(notes, 'apps[1] (Queue Worker).name').message).toContain('named queue-worker');
  });

  it('an ES module ecosystem file (.mjs) is read too', async () => {
    const { stack } = await imported('esm-project/ecosystem.config.mjs');
    expect(stack.services.esm).toMatchObject({
      run: { command: ['node', 'server.mjs'], cwd: './esm-project' },
      ports: { http: 4000 },
    });
  });
});

describe('a JSON ecosystem file', () => {
  it('is parsed, and notes point at the line of the key', async () => {
    const { stack, notes } = await imported('ecosystem.json');
    expect(stack.services.web).toMatchObject({
      run: { command: ['npm', 'start'], cwd: '/srv/web' },
      ports: { http: 8080 },
      env: { PORT: '${port}', API_TOKEN: '${secret:API_TOKEN}' },
    });
    expect(noteAbout(notes, 'apps[0] (web).max_memory_restart').at).toMatchObject({
      line: 9,
      col: 7,
    });
    expect(noteAbout(notes, 'apps[0] (web).env.API_TOKEN').at).toMatchObject({ line: 8, col: 32 });
  });
});

describe('a file that cannot be imported: a clear error', () => {
  it('one that throws says what it threw', async () => {
    const error = await failure('throws.config.js');
    expect(error.message).toContain(
      'threw while loading: Error: DATABASE_URL must be set before starting PM2',
    );
  });

  it('one that hangs is stopped after the time limit', async () => {
    const error = await failure('hangs.config.js', { timeoutMs: 1000 });
    expect(error.message).toContain('did not finish loading within 1 s');
  });

  it('one that writes a file is refused, and the file is not written', async () => {
    const error = await failure('writes.config.cjs');
    expect(error.hint).toContain('may only read files');
    expect(existsSync(path.join(FIXTURES, 'written-by-ecosystem.txt'))).toBe(false);
  });

  it('CommonJS under "type": "module" gets the fix PM2 needs too', async () => {
    const error = await failure('esm-project/ecosystem.config.js');
    expect(error.hint).toContain('rename the file to ecosystem.config.cjs');
  });

  it('one without apps', async () => {
    const error = await failure('no-apps.config.js');
    expect(error.message).toContain('exports no apps');
  });
});

describe('the seed: single-vps-pm2-caddy', () => {
  it("imports the operator's ecosystem file into the example's four Node services", async () => {
    const { stack } = await imported('seed/ecosystem.config.js');
    const example = await loadStackFile('examples/single-vps-pm2-caddy/flotilla.yml');
    if (!example.ok) throw new Error('the example does not load');
    const node = (services: Stack['services']) =>
      Object.fromEntries(
        Object.entries(services)
          .filter(([, service]) => service.run?.command[0] === 'node')
          .map(([name, service]) => [
            name,
            {
              command: service.run!.command,
              // The write-up's services live in /root/<name>; the example keeps them beside it.
              cwd: path.basename(service.run!.cwd!),
              env_files: service.run!.env_files,
              ports: service.ports,
              replicas: service.replicas,
              restart: service.restart,
              // What PM2 knew: the example adds the secrets of each .env as ${secret:}.
              env: { NODE_ENV: service.env.NODE_ENV, PORT: service.env.PORT },
            },
          ]),
      );
    expect(node(stack.services)).toEqual(node(example.stack.services));
    expect(Object.keys(node(stack.services))).toEqual([
      'voice-pipeline',
      'db-proxy',
      'log-query-service',
      'deepgram-proxy',
    ]);
  });
});
