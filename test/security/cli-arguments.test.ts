// Issue 10, item 7: `flotilla secrets set NAME value` stored the value from stdin and
// silently ignored `value`, which by then was a secret in `ps` and the shell history; other
// commands ignored extra words too. The attack here: type the value on the command line.
// It is refused with exit 2 before anything is read or stored, the value is not repeated,
// and the hint says where the value goes and to clean the shell history. Every command
// refuses a word it does not take the same way.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flotilla } from '../helpers/flotilla-cli.ts';

const VALUE = `typed-on-argv-${process.pid}-41d9`;

let dir: string;
let file: string;
let env: NodeJS.ProcessEnv;
let store: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-cli-args-'));
  file = path.join(dir, 'flotilla.yml');
  await writeFile(file, 'name: args\nservices:\n  api: { run: { command: [api] } }\n');
  env = { FLOTILLA_STATE_DIR: path.join(dir, 'state') };
  store = path.join(dir, 'state', 'secrets', 'store.json');
  const set = await flotilla(['secrets', 'set', 'TOKEN', '-f', file], env, 'first');
  expect(set.code, set.stderr).toBe(0);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('flotilla secrets set NAME value', () => {
  it('is refused with exit 2, the value neither stored nor repeated, and a hint', async () => {
    const before = await readFile(store, 'utf8');
    const result = await flotilla(['secrets', 'set', 'TOKEN', VALUE, '-f', file], env, 'second');
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('flotilla secrets: unexpected argument after NAME');
    expect(result.stderr).toContain('hint: the value is read from stdin');
    expect(result.stderr).toContain('remove it from the history');
    expect(result.stderr).not.toContain(VALUE);
    // Neither the typed value nor the one on stdin: nothing was stored.
    expect(await readFile(store, 'utf8')).toBe(before);
    const list = await flotilla(['secrets', 'list', '--json', '-f', file], env);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ name: 'TOKEN', current: 1 }),
    ]);
  });
});

describe('every command', () => {
  // One word too many for each command (and verb), with what it takes instead.
  it.concurrent.each([
    [['validate', 'flotilla.yml'], '`flotilla validate` takes no arguments'],
    [['plan', 'caddy'], '`flotilla plan` takes no arguments'],
    [['up', 'now'], '`flotilla up` takes no arguments'],
    [['apply', 'now'], '`flotilla apply` takes no arguments'],
    [['status', 'api'], '`flotilla status` takes no arguments'],
    [['down', 'api'], '`flotilla down` takes no arguments'],
    [['schema', 'out.json'], '`flotilla schema` takes no arguments'],
    [['daemon', 'start'], '`flotilla daemon` takes no arguments'],
    [['hub', 'start'], '`flotilla hub` takes no arguments'],
    [['agent', 'flt1_token'], '`flotilla agent` takes no arguments'],
    [['logs', 'api', 'worker'], '`flotilla logs` takes only <service>'],
    [['restart', 'api', 'worker'], '`flotilla restart` takes only <service>'],
    [['node', 'ls', 'db'], '`flotilla node ls` takes no arguments'],
    [['node', 'rm', 'db', 'web'], '`flotilla node rm` takes only <name>'],
    [
      ['node', 'add', 'root@203.0.113.20', 'db'],
      '`flotilla node add` takes only <[user@]host[:port]>',
    ],
    [['node', 'setup', 'db'], '`flotilla node setup` takes no arguments'],
    [['lab', 'down', 'lab2'], '`flotilla lab down` takes no arguments'],
    [['backup', 'list', 'db', 'web'], '`flotilla backup list` takes only [job]'],
    [['backup', 'restore', 'db', 'snap'], '`flotilla backup restore` takes only <job>'],
    [['secrets', 'list', 'TOKEN'], '`flotilla secrets list` takes no arguments'],
    [['secrets', 'rm', 'TOKEN', 'OTHER'], '`flotilla secrets rm` takes only NAME'],
  ])('%j is refused with exit 2 and a hint', async (args, hint) => {
    // schema, agent and lab have no stack file.
    const stackFile = ['schema', 'agent', 'lab'].includes(args[0]!) ? [] : ['-f', file];
    const result = await flotilla([...args, ...stackFile], env);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`unexpected argument "${args.at(-1)}"`);
    expect(result.stderr).toContain(`hint: ${hint}`);
    expect(result.stderr).toMatch(/\nusage: flotilla /);
  });

  it('refuses an unknown verb with a suggestion, and a missing one', async () => {
    const typo = await flotilla(['secrets', 'lst', '-f', file], env);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('unknown verb "lst"\nhint: did you mean `list`?');
    const none = await flotilla(['node', '-f', file], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(
      'missing what to do: add, upgrade, setup, token, ls, rm, leave or doctor',
    );
  });

  it("refuses another verb's option: node verbs share one option table", async () => {
    const ls = await flotilla(['node', 'ls', '--host-key', 'SHA256:x', '-f', file], env);
    expect(ls.code).toBe(2);
    expect(ls.stderr).toContain('node ls takes no --host-key\nhint: its options: --file --json');
    const upgrade = await flotilla(['node', 'upgrade', 'db', '--all', '-f', file], env);
    expect(upgrade.code).toBe(2);
    expect(upgrade.stderr).toContain('name the nodes to upgrade, or give --all (not both)');
  });
});
