// The real `flotilla` binary, as a user runs it: exit codes, messages, no stack traces.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { flotilla } from '../helpers/flotilla-cli.ts';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'flotilla-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('flotilla validate', () => {
  it('accepts the quickstart with exit 0', async () => {
    const result = await flotilla(['validate', '-f', 'examples/quickstart/flotilla.yml']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('is valid: stack quickstart, 5 services on 1 node');
  });

  it('reports every problem as file:line:col with a hint, exit 1, no stack trace', async () => {
    const file = path.join(dir, 'bad.yml');
    await writeFile(
      file,
      'name: bad\nservices:\n  api:\n    run: { command: [node] }\n    depend_on: [db]\n    replicas: -1\n',
    );
    const result = await flotilla(['validate', '-f', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `${file}:5:5 error unknown key \`depend_on\` in \`services.api\``,
    );
    expect(result.stderr).toContain('hint: did you mean `depends_on`?');
    expect(result.stderr).toContain(`${file}:6:15 error`);
    expect(result.stderr).toContain('2 problems in');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('says plainly when the file is missing', async () => {
    const result = await flotilla(['validate', '-f', path.join(dir, 'absent.yml')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no such file');
  });

  it('rejects bad usage with exit 2 and a hint', async () => {
    expect((await flotilla(['validate', '--nope'])).code).toBe(2);
    const typo = await flotilla(['plna']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean `plan`?');
  });
});

async function secretFile(value: string): Promise<string> {
  const file = path.join(dir, 'secret-value');
  await writeFile(file, value, { mode: 0o600 });
  return file;
}

describe('flotilla plan', () => {
  it('prints JSON with the stable top-level keys and masks secrets', async () => {
    const file = path.join(dir, 'secret.yml');
    await writeFile(
      file,
      'name: s\nservices:\n  a: { run: { command: [a] }, env: { PW: "${secret:DB_PW}" } }\n',
    );
    const env = { FLOTILLA_STATE_DIR: path.join(dir, 'state') };
    // plan and validate read the file: an unset secret is one warning, not an error per use.
    const unset = await flotilla(['plan', '-f', file], env);
    expect(unset.code, unset.stderr).toBe(0);
    expect(unset.stderr).toContain(
      'warning: 1 secret is not set on this machine: DB_PW (up and apply need it)',
    );
    // up runs the stack: it refuses, at the place that uses the secret, and starts nothing.
    const refused = await flotilla(['up', '--detach', '-f', file], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `${file}:3:42 error secret DB_PW is not set for service \`a\``,
    );
    const value = 'marker-value-7f3a';
    const set = await flotilla(
      ['secrets', 'set', 'DB_PW', '--from-file', await secretFile(value), '-f', file],
      env,
    );
    expect(set.stdout).toContain('DB_PW set (version 1)');
    const result = await flotilla(['plan', '-f', file, '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain(value);
    const plan = JSON.parse(result.stdout);
    for (const key of [
      'placement',
      'order',
      'routes',
      'caddy',
      'firewall',
      'reachability',
      'acl',
      'cost',
    ]) {
      expect(plan).toHaveProperty(key);
    }
    expect(plan.desired.local.instances[0].env.PW).toBe('<secret:DB_PW>');
    expect(result.stdout).not.toContain('${secret:');
  });

  it('prints a human summary of the quickstart', async () => {
    const result = await flotilla(['plan', '-f', 'examples/quickstart/flotilla.yml']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Stack quickstart');
    expect(result.stdout).toMatch(/api-2\s+local\s+100\.96\.0\.1\s+http=3001/);
    expect(result.stdout).toContain('1. postgres, redis, site');
    expect(result.stdout).toMatch(
      /https:\/\/quickstart\.localhost\/api\/\* \(prefix stripped\)\s+api:http\s+127\.0\.0\.1:3000 127\.0\.0\.1:3001/,
    );
  });

  it('shows single artifacts raw', async () => {
    const caddy = await flotilla([
      'plan',
      '-f',
      'examples/quickstart/flotilla.yml',
      '--show',
      'caddy',
    ]);
    expect(JSON.parse(caddy.stdout)).toHaveProperty('apps.http');
    const firewall = await flotilla([
      'plan',
      '-f',
      'examples/quickstart/flotilla.yml',
      '--show',
      'firewall:local',
    ]);
    expect(firewall.stdout).toContain('table inet flotilla');
    const missing = await flotilla([
      'plan',
      '-f',
      'examples/quickstart/flotilla.yml',
      '--show',
      'firewall:nowhere',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nodes with one: local');
  });
});

describe('flotilla schema', () => {
  it('prints a JSON Schema every example satisfies and a typo violates', async () => {
    const result = await flotilla(['schema']);
    expect(result.code).toBe(0);
    const validate = new Ajv2020.default({ strict: false, validateFormats: false }).compile(
      JSON.parse(result.stdout),
    );
    const examples = (await readdir('examples', { withFileTypes: true })).filter((entry) =>
      entry.isDirectory(),
    );
    expect(examples.length).toBeGreaterThan(0);
    const { readFile } = await import('node:fs/promises');
    for (const example of examples) {
      const document = parse(
        await readFile(path.join('examples', example.name, 'flotilla.yml'), 'utf8'),
      );
      expect(validate(document), `${example.name}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    expect(
      validate({ name: 'x', services: { a: { run: { command: ['a'] }, depend_on: [] } } }),
    ).toBe(false);
  });
});
