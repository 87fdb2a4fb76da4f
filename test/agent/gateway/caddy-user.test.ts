// Caddy's own directories when the agent is root: a tree a root Caddy left is handed to
// flotilla-caddy without following a link out of it, and a state directory Caddy's user
// cannot get through is refused with a hint instead of a Caddy that keeps exiting.
import { execFile } from 'node:child_process';
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CADDY_USER,
  CaddyDirError,
  checkReachable,
  ensureSystemUser,
  ownedDirectory,
} from '../../../src/agent/gateway/caddy-user.ts';
import type { SystemUser } from '../../../src/system/users.ts';

const run = promisify(execFile);

describe.skipIf(process.getuid?.() !== 0)("Caddy's directories", () => {
  let dir: string;
  let user: SystemUser;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-caddy-user-'));
    await chmod(dir, 0o711);
    user = await ensureSystemUser(CADDY_USER);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the system user once, also when several agents ask at the same time', async () => {
    expect(await ensureSystemUser(CADDY_USER)).toEqual(user);
    expect(user.uid).not.toBe(0);
    const name = `flt-test-${process.pid}`;
    try {
      const created = await Promise.all([1, 2, 3].map(() => ensureSystemUser(name)));
      expect(new Set(created.map((each) => each.uid)).size).toBe(1);
      expect(created[0]).toMatchObject({ name, home: '/nonexistent' });
      expect(readFileSync('/etc/passwd', 'utf8')).toContain(`${name}:x:${created[0]!.uid}:`);
    } finally {
      await run('userdel', [name]).catch(() => undefined);
    }
  });

  it('hands over what a root Caddy left, certificates included, never following a link', async () => {
    const storage = path.join(dir, 'storage');
    const pki = path.join(storage, 'pki', 'authorities', 'local');
    await mkdir(pki, { recursive: true, mode: 0o700 });
    await writeFile(path.join(pki, 'root.crt'), 'PEM', { mode: 0o600 });
    const outside = path.join(dir, 'outside');
    await writeFile(outside, 'root only', { mode: 0o600 });
    await symlink(outside, path.join(storage, 'link'));

    await ownedDirectory(storage, user);

    for (const owned of [storage, path.join(storage, 'pki'), pki, path.join(pki, 'root.crt')])
      expect(lstatSync(owned).uid, owned).toBe(user.uid);
    expect(lstatSync(path.join(storage, 'link')).uid).toBe(user.uid);
    expect(statSync(outside).uid).toBe(0);
    expect(statSync(storage).mode & 0o777).toBe(0o700);
  });

  it('refuses a state directory Caddy cannot get through, with a hint', async () => {
    const closed = path.join(dir, 'closed');
    await mkdir(path.join(closed, 'caddy'), { recursive: true });
    await chmod(closed, 0o700);
    const error = await checkReachable(path.join(closed, 'caddy'), user).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CaddyDirError);
    expect((error as CaddyDirError).message).toContain(
      `${closed} (mode 700) keeps ${CADDY_USER} out`,
    );
    expect((error as CaddyDirError).hint).toContain(`chmod o+x ${closed}`);
    await chmod(closed, 0o711);
    await expect(checkReachable(path.join(closed, 'caddy'), user)).resolves.toBeUndefined();
  });
});
