// `flotilla dashboard user add|rm|list`: the password comes from stdin (the real binary, fed
// as a pipe) and lands hashed in the state dir's users file (which a running hub rereads); a
// password on argv, a short one, a bad name or scope, a taken name and an unknown one are
// refused with a hint and the right exit code, and nothing is written. Refusals that come
// before stdin is read run in process through main() (a CLI start costs seconds under load).
import { Writable } from 'node:stream';
import pc from 'picocolors';
import { main } from '../../../src/cli/main.ts';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashboardUsers, dashboardUsersFile } from '../../../src/hub/dashboard/dashboard-users.ts';
import { flotilla } from '../../helpers/flotilla-cli.ts';
import { TEST_SCRYPT_COST } from './dashboard-fixture.ts';

const PASSWORD = 'correct horse battery staple';

let dir: string;
let file: string;
let env: NodeJS.ProcessEnv;
const stateDir = () => env.FLOTILLA_STATE_DIR!;
/** The real binary, for what reads stdin. */
const binary = (args: string[], input: string) =>
  flotilla(['dashboard', 'user', ...args, '-f', file], env, input);

/** main() in this process, its output captured. */
async function inProcess(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const text = { stdout: '', stderr: '' };
  const sink = (key: keyof typeof text) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        text[key] += chunk.toString('utf8');
        done();
      },
    });
  const saved = process.env.FLOTILLA_STATE_DIR;
  process.env.FLOTILLA_STATE_DIR = stateDir();
  try {
    const code = await main(['dashboard', 'user', ...args, '-f', file], {
      out: sink('stdout'),
      err: sink('stderr'),
      color: pc.createColors(false),
    });
    return { code, ...text };
  } finally {
    if (saved === undefined) delete process.env.FLOTILLA_STATE_DIR;
    else process.env.FLOTILLA_STATE_DIR = saved;
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-dashboard-cli-'));
  env = { FLOTILLA_STATE_DIR: path.join(dir, 'state') };
  file = path.join(dir, 'flotilla.yml');
  await writeFile(file, 'name: shop\nservices:\n  web: { run: { command: [node, server.js] } }\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('flotilla dashboard user', () => {
  it('adds a user with the password from stdin, lists and removes them', async () => {
    const added = await binary(['add', 'alice', '--scope', 'operate'], `${PASSWORD}\n`);
    expect(added).toMatchObject({ code: 0, stdout: 'alice added (operate)\n' });
    expect(await readFile(dashboardUsersFile(stateDir()), 'utf8')).not.toContain(PASSWORD);
    const users = await DashboardUsers.open(stateDir(), { cost: TEST_SCRYPT_COST });
    // The newline `echo` adds is not part of the password.
    expect((await users.verify('alice', PASSWORD))?.scope).toBe('operate');
    await users.add('bob', 'read', PASSWORD);

    const listed = await inProcess(['list', '--json']);
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { name: 'alice', scope: 'operate' },
      { name: 'bob', scope: 'read' },
    ]);
    expect((await inProcess(['list'])).stdout).toMatch(
      /^ *NAME +SCOPE +ADDED\n *alice +operate +\d{4}-/,
    );
    expect(await inProcess(['rm', 'bob'])).toMatchObject({
      code: 0,
      stdout: 'bob removed; their sessions end at their next request\n',
    });
    expect(await users.find('bob')).toBeUndefined();
  });

  it('refuses a short password from stdin, and writes nothing', async () => {
    const before = await readFile(dashboardUsersFile(stateDir()), 'utf8');
    const short = await binary(['add', 'carol'], 'short\n');
    expect(short.code).toBe(1);
    expect(short.stderr).toBe(
      'flotilla dashboard user add: the password is shorter than 12 characters\nhint: use a longer one, e.g. four random words, or: openssl rand -base64 18\n',
    );
    expect(await readFile(dashboardUsersFile(stateDir()), 'utf8')).toBe(before);
  });

  it('refuses bad usage with a hint before reading a password, and writes nothing', async () => {
    const before = await readFile(dashboardUsersFile(stateDir()), 'utf8');
    const cases: [string[], number, RegExp][] = [
      [
        ['add', 'carol', 'hunter2hunter2'],
        2,
        /password is read from stdin, never from the command line/,
      ],
      [['add', 'Carol!'], 2, /"Carol!" is no user name\nhint: a user name is 1-63 of/],
      [
        ['add', 'carol', '--scope', 'root'],
        2,
        /unknown --scope root\nhint: one of read, operate, admin/,
      ],
      [['add', 'alice'], 1, /exists already\nhint: to change their password or scope/],
      [['rm', 'nobody'], 1, /no dashboard user named nobody\nhint: flotilla dashboard user list/],
      [['rm', 'alice', '--scope', 'read'], 2, /--scope is for `user add`/],
      [['ad', 'carol'], 2, /unknown verb "ad"\nhint: did you mean `add`\?/],
      [[], 2, /missing what to do: add, rm or list/],
    ];
    for (const [args, code, message] of cases) {
      const result = await inProcess(args);
      expect(result.code, args.join(' ')).toBe(code);
      expect(result.stderr, args.join(' ')).toMatch(message);
      expect(result.stderr).not.toContain('hunter2hunter2');
    }
    expect(await readFile(dashboardUsersFile(stateDir()), 'utf8')).toBe(before);
  });
});
