// Attack: another local user (here another service's) reads, lists or stats a service's
// secret files, or the service's own user plants a symlink where its next secret file goes
// so that root writes the secret through it. Refused: the files sit in the agent's real
// layout under /run/flotilla, 0400 and owned by the service's user, in a 0500 directory of
// that user's, below a 0711 root directory nobody can list; the directory is made anew on
// every write. The service's user reads its file; every attempt of the other user is run
// for real as that user (setpriv, argv) and fails.
import { execFile } from 'node:child_process';
import { lstat, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InstanceSpecError,
  secretFilePath,
  type AgentPaths,
} from '../../src/agent/process-spec.ts';
import { resolveUser, type SystemUser } from '../../src/system/users.ts';
import {
  removeAllSecretFiles,
  removeSecretFiles,
  secretFilesRoot,
  writeSecretFiles,
} from '../../src/agent/secret-files.ts';
import { desiredInstanceSchema, type DesiredInstance } from '../../src/plan/desired.ts';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
/** The other service's user, made for this test and removed after it. */
const OTHER = `flt-sec-${process.pid}`;
const SECRETS: Record<string, string> = {
  PW: 'nobodys-secret-3f9a',
  OTHER_PW: 'others-secret-77c1',
};

let dir: string;
let paths: AgentPaths;
let nobody: SystemUser;
let other: SystemUser;
let userAdded = false;

/** Runs argv as `user` (its uid and gid, no supplementary groups): exit code and stderr. */
async function as(user: SystemUser, argv: string[]): Promise<{ code: number; out: string }> {
  const ids = [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups'];
  try {
    const { stdout } = await run('setpriv', [...ids, '--', ...argv], {
      env: { PATH: '/usr/bin:/bin' },
    });
    return { code: 0, out: stdout };
  } catch (error) {
    const failure = error as { code: number; stderr: string };
    return { code: failure.code, out: failure.stderr };
  }
}

function desired(id: string, user: string | undefined, files: string[]): DesiredInstance {
  return desiredInstanceSchema.parse({
    id,
    service: id.replace(/-\d+$/, ''),
    index: 1,
    node: 'local',
    runtime: {
      kind: 'process',
      command: ['sleep', '600'],
      cwd: '/',
      env_files: [],
      ...(user === undefined ? {} : { user }),
    },
    env: {},
    ports: {},
    data_dir: path.join(dir, 'data'),
    depends_on: [],
    restart: 'always',
    stop: { signal: 'SIGTERM', timeout: '2s' },
    secrets: files,
    secret_files: files,
  });
}

const lookup = (name: string) => SECRETS[name];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-secret-files-'));
  if (!isRoot) return;
  await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', OTHER]);
  userAdded = true;
  nobody = resolveUser('nobody');
  other = resolveUser(OTHER);
  // The agent's own layout: /run/flotilla/<hash of its state dir>.
  paths = {
    secretFiles: secretFilesRoot(dir),
    instances: path.join(dir, 'instances'),
    logs: path.join(dir, 'logs'),
  };
});

afterAll(async () => {
  if (paths) removeAllSecretFiles(paths);
  if (userAdded) await run('userdel', [OTHER]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!isRoot)('secret files', () => {
  it("are readable by the service's user only: another service's user cannot read, list or stat them", async () => {
    const app = desired('app-1', 'nobody', ['PW']);
    const peer = desired('peer-1', OTHER, ['OTHER_PW']);
    writeSecretFiles(paths, app, lookup);
    writeSecretFiles(paths, peer, lookup);
    const file = secretFilePath(paths, 'app-1', 'PW');
    const appDir = path.dirname(file);

    expect(paths.secretFiles.startsWith('/run/flotilla/')).toBe(true);
    for (const parent of ['/run/flotilla', paths.secretFiles])
      expect(await stat(parent)).toMatchObject({ uid: 0, mode: 0o40711 });
    expect(await stat(appDir)).toMatchObject({ uid: nobody.uid, gid: nobody.gid, mode: 0o40500 });
    expect(await stat(file)).toMatchObject({ uid: nobody.uid, gid: nobody.gid, mode: 0o100400 });

    expect(await as(nobody, ['cat', file])).toEqual({ code: 0, out: SECRETS.PW });
    expect(await as(other, ['cat', secretFilePath(paths, 'peer-1', 'OTHER_PW')])).toEqual({
      code: 0,
      out: SECRETS.OTHER_PW,
    });

    // The other service's user: not the file, not its directory, not the list of instances.
    for (const argv of [
      ['cat', file],
      ['ls', appDir],
      ['stat', file],
      ['ls', paths.secretFiles],
      ['ls', '/run/flotilla'],
    ]) {
      const attempt = await as(other, argv);
      expect(attempt.code, argv.join(' ')).not.toBe(0);
      expect(attempt.out).toContain('Permission denied');
    }
    // Nor nobody into the other's.
    expect((await as(nobody, ['cat', secretFilePath(paths, 'peer-1', 'OTHER_PW')])).code).not.toBe(
      0,
    );
  });

  it("a service's user cannot make the agent write its secret through a planted symlink", async () => {
    const app = desired('app-1', 'nobody', ['PW']);
    writeSecretFiles(paths, app, lookup);
    const file = secretFilePath(paths, 'app-1', 'PW');
    // A file only root may write: the symlink's target.
    const target = path.join(dir, 'root-only');
    await writeFile(target, 'untouched', { mode: 0o644 });
    const planted = await as(nobody, [
      'sh',
      '-c',
      'chmod 700 "$0" && rm -f "$1" && ln -s "$2" "$1"',
      path.dirname(file),
      file,
      target,
    ]);
    expect(planted.code).toBe(0);
    expect((await lstat(file)).isSymbolicLink()).toBe(true);

    writeSecretFiles(paths, app, lookup);
    expect(await readFile(target, 'utf8')).toBe('untouched');
    expect((await lstat(file)).isFile()).toBe(true);
    expect(await stat(path.dirname(file))).toMatchObject({ uid: nobody.uid, mode: 0o40500 });
    expect(await as(nobody, ['cat', file])).toEqual({ code: 0, out: SECRETS.PW });
  });

  it("of a service without a user are root's alone", async () => {
    writeSecretFiles(paths, desired('rooted-1', undefined, ['PW']), lookup);
    const file = secretFilePath(paths, 'rooted-1', 'PW');
    expect(await stat(path.dirname(file))).toMatchObject({ uid: 0, mode: 0o40700 });
    expect(await stat(file)).toMatchObject({ uid: 0, mode: 0o100400 });
    expect((await as(nobody, ['cat', file])).code).not.toBe(0);
  });

  it('a missing secret writes nothing; removing takes the directory away', async () => {
    const app = desired('app-1', 'nobody', ['PW', 'MISSING']);
    expect(() => writeSecretFiles(paths, app, lookup)).toThrow(InstanceSpecError);
    expect(() => writeSecretFiles(paths, app, lookup)).toThrow(
      'secret MISSING is not set (flotilla secrets set MISSING)',
    );
    await expect(stat(secretFilePath(paths, 'app-1', 'PW'))).rejects.toThrow('ENOENT');

    writeSecretFiles(paths, desired('app-1', 'nobody', ['PW']), lookup);
    removeSecretFiles(paths, 'app-1');
    await expect(stat(path.dirname(secretFilePath(paths, 'app-1', 'PW')))).rejects.toThrow(
      'ENOENT',
    );
  });
});
