// The dashboard's users file: users added with a scope and a scrypt hash (never the password),
// 0600; a password too short refused with a hint; a name taken refused; verify tells a right
// password from a wrong one and an unknown user; a second store on the same file (the CLI while
// the hub runs) sees every change without being reopened; a file edited into nonsense is an
// error naming it, not an empty user list.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DashboardUserError,
  DashboardUsers,
  dashboardUsersFile,
} from '../../../src/hub/dashboard/dashboard-users.ts';
import { TEST_SCRYPT_COST } from './dashboard-fixture.ts';

const PASSWORD = 'a long enough password';

let stateDir: string;
let users: DashboardUsers;

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-dashboard-users-'));
  users = await DashboardUsers.open(stateDir, { cost: TEST_SCRYPT_COST, now: () => 1_000 });
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe('DashboardUsers', () => {
  it('keeps a scrypt hash with its own salt and cost, never the password, in a 0600 file', async () => {
    await users.add('alice', 'operate', PASSWORD);
    await users.add('bob', 'read', PASSWORD);
    const file = dashboardUsersFile(stateDir);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(PASSWORD);
    const stored = JSON.parse(text) as {
      users: { password: { salt: string; hash: string; N: number } }[];
    };
    const [alice, bob] = stored.users;
    expect(alice!.password.N).toBe(TEST_SCRYPT_COST.N);
    expect(alice!.password.salt).not.toBe(bob!.password.salt);
    expect(alice!.password.hash).not.toBe(bob!.password.hash);
    expect(await users.list()).toEqual([
      { name: 'alice', scope: 'operate', created_at: 1_000 },
      { name: 'bob', scope: 'read', created_at: 1_000 },
    ]);
  });

  it('verifies the right password only, and knows no unknown user', async () => {
    await users.add('alice', 'admin', PASSWORD);
    expect(await users.verify('alice', PASSWORD)).toEqual({
      name: 'alice',
      scope: 'admin',
      created_at: 1_000,
    });
    expect(await users.verify('alice', `${PASSWORD}!`)).toBeUndefined();
    expect(await users.verify('alice', '')).toBeUndefined();
    expect(await users.verify('nobody', PASSWORD)).toBeUndefined();
  });

  it('refuses a short password and a taken name with what to do, and changes nothing', async () => {
    await expect(users.add('alice', 'read', 'short pass')).rejects.toMatchObject({
      message: 'the password is shorter than 12 characters',
      hint: expect.stringContaining('openssl rand') as string,
    });
    await users.add('alice', 'read', PASSWORD);
    const error = await users.add('alice', 'admin', PASSWORD).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DashboardUserError);
    expect((error as DashboardUserError).hint).toContain('flotilla dashboard user rm alice');
    expect(await users.list()).toEqual([{ name: 'alice', scope: 'read', created_at: 1_000 }]);
  });

  it('sees what another writer of the file did, without being reopened', async () => {
    const cli = await DashboardUsers.open(stateDir, { cost: TEST_SCRYPT_COST });
    expect(await users.find('alice')).toBeUndefined();
    await cli.add('alice', 'read', PASSWORD);
    expect((await users.find('alice'))?.scope).toBe('read');
    expect(await users.verify('alice', PASSWORD)).toBeDefined();
    expect(await cli.remove('alice')).toBe(true);
    expect(await users.find('alice')).toBeUndefined();
    expect(await cli.remove('alice')).toBe(false);
  });

  it('says which file is broken rather than reading it as no users', async () => {
    await users.add('alice', 'read', PASSWORD);
    await writeFile(dashboardUsersFile(stateDir), '{"version": 1, "users": [{"name": "alice"}]}');
    await expect(users.find('alice')).rejects.toThrow(
      `${dashboardUsersFile(stateDir)} is not in the expected format; fix or remove it`,
    );
  });
});
