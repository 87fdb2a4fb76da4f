// Issue 10, item 6: `${secret:X}` in a command line (run.command, a container's command, an
// exec health check, a backup command) was rendered into the program's argv, which every
// local user reads in /proc/<pid>/cmdline. The attack here: set a secret, bring up a stack
// that puts it on a command line, and look for it in every process's cmdline. It is refused
// at file:line:col with a hint, nothing starts, and the way the hint names (env,
// secret_files) is accepted.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStackText } from '../../src/spec/load.ts';
import type { Diagnostic } from '../../src/spec/diagnostic.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';

const MARKER = `argv-secret-${process.pid}-7c1e`;

/** High gateway ports: this stack must not meet another test's gateway. */
const stack = (service: string) => `name: argv-secret
gateway: { http_port: 18480, https_port: 18443 }
services:
  holder:
${service}`;

let dir: string;
let env: NodeJS.ProcessEnv;
/** The way the hint names: through the environment, or a secret file. */
let viaEnv: string;
/** The same stack with the secret on a command line. */
let onArgv: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-argv-'));
  env = { FLOTILLA_STATE_DIR: path.join(dir, 'state') };
  viaEnv = path.join(dir, 'env.yml');
  await writeFile(
    viaEnv,
    stack(
      `    run: { command: [sh, -c, 'exec sleep 60'] }\n    env: { API_TOKEN: '\${secret:API_TOKEN}' }\n    secret_files: [API_TOKEN]\n`,
    ),
  );
  onArgv = path.join(dir, 'argv.yml');
  await writeFile(
    onArgv,
    stack(`    run: { command: [sh, -c, 'exec sleep 60', '\${secret:API_TOKEN}'] }\n`),
  );
  // `secrets` needs a valid stack file (it names the stack): the one that passes it right.
  const set = await flotilla(['secrets', 'set', 'API_TOKEN', '-f', viaEnv], env, MARKER);
  expect(set.code, set.stderr).toBe(0);
});
afterAll(async () => {
  // Only the code before the fix got as far as starting anything.
  await flotilla(['down', '-f', onArgv], env);
  await rm(dir, { recursive: true, force: true });
});

/** Every process's command line on this machine, as any local user can read it. */
async function commandLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      lines.push((await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' '));
    } catch {
      // It exited meanwhile.
    }
  }
  return lines;
}

describe('a secret on a command line', () => {
  it('is refused at the reference, with a hint, before anything starts', async () => {
    const up = await flotilla(['up', '--detach', '--timeout', '20', '-f', onArgv], env);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain(
      `${onArgv}:5:47 error in \`\${secret:API_TOKEN}\`: secret API_TOKEN would be on a command line, which every local user can read (ps, /proc/<pid>/cmdline)`,
    );
    expect(up.stderr).toContain(
      "hint: put it in `env` (env: { API_TOKEN: '${secret:API_TOKEN}' })",
    );
    expect(up.stderr).toContain('`secret_files: [API_TOKEN]`');
    expect(up.stderr).not.toMatch(/internal error|\n\s+at /);
    expect((await commandLines()).filter((line) => line.includes(MARKER))).toEqual([]);
    expect((await flotilla(['validate', '-f', onArgv], env)).code).toBe(1);
  });

  it('is accepted through the environment or a secret file, as the hint says', async () => {
    const plan = await flotilla(['plan', '--json', '-f', viaEnv], env);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).not.toContain(MARKER);
  });
});

describe('every command line of the stack file', () => {
  const problems = (text: string): Diagnostic[] => {
    const result = parseStackText(text, 'flotilla.yml');
    return result.ok ? [] : result.diagnostics;
  };
  const onArgv = (diagnostics: Diagnostic[]) =>
    diagnostics.filter((diagnostic) => diagnostic.message.includes('would be on a command line'));

  it.each([
    [
      'a process',
      'run: { command: [tool, "--token=${secret:T}"] }',
      ['services', 'a', 'run', 'command', 1],
      '`secret_files: [T]`',
    ],
    [
      'a container',
      'image: tool:1\n    command: [serve, "${secret:T}"]',
      ['services', 'a', 'command', 1],
      'have the program read T from its environment',
    ],
    [
      'an exec health check',
      'run: { command: [tool] }\n    health: { exec: { command: [check, "${secret:T}"] } }',
      ['services', 'a', 'health', 'exec', 'command', 1],
      "the check runs with the service's environment",
    ],
    [
      "a service's backup command",
      'run: { command: [tool] }\n    backup: { kind: command, command: [dump, "${secret:T}"], schedule: "0 2 * * *", to: local }',
      ['services', 'a', 'backup', 'command', 1],
      'a backup command runs with PATH and HOME only',
    ],
  ])('%s is refused at its path', (_what, service, at, hint) => {
    const found = onArgv(
      problems(
        `name: s\nservices:\n  a:\n    ${service}\nbackups: { targets: { local: { repository: /srv/restic, password: "\${secret:P}" } } }\n`,
      ),
    );
    expect(found).toHaveLength(1);
    expect(found[0]!.path).toEqual(at);
    expect(found[0]!.hint).toContain(hint);
  });

  it('a backup job command is refused at its line and column', () => {
    const found = onArgv(
      problems(`name: s
services:
  a: { run: { command: [tool] } }
backups:
  targets: { local: { repository: /srv/restic, password: "\${secret:P}" } }
  jobs:
    export: { node: local, kind: command, command: [export, --key, "k=\${secret:K}"], schedule: "0 2 * * *", to: local }
`),
    );
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      line: 7,
      col: 68,
      path: ['backups', 'jobs', 'export', 'command', 2],
    });
  });

  it('leaves secrets where they do not reach a command line: env, backup targets', () => {
    expect(
      problems(`name: s
services:
  a:
    run: { command: [tool, --port, "\${port}"] }
    ports: { http: 3000 }
    env: { TOKEN: "\${secret:T}" }
backups: { targets: { local: { repository: /srv/restic, password: "\${secret:P}" } } }
`),
    ).toEqual([]);
  });
});
