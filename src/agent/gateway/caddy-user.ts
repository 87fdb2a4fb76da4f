// The unprivileged account Caddy runs as when the agent is root. Caddy parses requests from
// the internet and configs from the hub; as root, any flaw in either (or a config that serves
// `/`) hands out the node. As `flotilla-caddy`, with CAP_NET_BIND_SERVICE as its only
// capability, it can bind 80/443 and touch its own files, nothing else.
import { execFile } from 'node:child_process';
import { chmod, lchown, lstat, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { resolveUser, UnknownUserError, type SystemUser } from '../../system/users.ts';

const run = promisify(execFile);

export const CADDY_USER = 'flotilla-caddy';

/** Caddy cannot reach its own files: a parent directory keeps its user out. */
export class CaddyDirError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'CaddyDirError';
  }
}

/**
 * useradd checks that the name is free before it locks /etc/passwd: two agents creating the
 * user at once (two stacks, lab nodes) both succeed, and the last one's uid wins over the uid
 * the first already used. So one useradd at a time, under a lock of our own.
 */
const USERADD_LOCK = '/run/flotilla/useradd.lock';
const USERADD_LOCK_TIMEOUT_S = 60;

/** The system user `name`, created (no home, no login) when missing. */
export async function ensureSystemUser(name: string): Promise<SystemUser> {
  try {
    return resolveUser(name);
  } catch (error) {
    if (!(error instanceof UnknownUserError)) throw error;
  }
  let failure: unknown;
  await mkdir(path.dirname(USERADD_LOCK), { recursive: true, mode: 0o700 });
  await run('flock', [
    `--timeout=${USERADD_LOCK_TIMEOUT_S}`,
    USERADD_LOCK,
    'useradd',
    '--system',
    '--user-group',
    '--no-create-home',
    '--home-dir',
    '/nonexistent',
    '--shell',
    '/usr/sbin/nologin',
    '--comment',
    'Flotilla gateway (Caddy)',
    name,
  ]).catch((error: unknown) => (failure = error)); // exit 9: another agent created it first
  try {
    return resolveUser(name);
  } catch {
    const why = failure instanceof Error ? failure.message : 'useradd added no entry';
    throw new Error(`cannot create the system user ${name}: ${why}`);
  }
}

/**
 * `command` run as `user` with CAP_NET_BIND_SERVICE only: in its permitted, effective and
 * ambient sets (so it survives the exec into `command`) and the bounding set, no supplementary
 * groups, no_new_privs. setpriv execs `command` in place: the PID (and its start time, which
 * the supervisor adopts by) stays, and /proc/<pid>/cmdline becomes `command`'s.
 */
export function dropPrivileges(user: SystemUser, command: readonly string[]): string[] {
  const capabilities = '-all,+net_bind_service';
  return [
    'setpriv',
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    '--clear-groups',
    '--no-new-privs',
    `--inh-caps=${capabilities}`,
    `--ambient-caps=${capabilities}`,
    `--bounding-set=${capabilities}`,
    '--',
    ...command,
  ];
}

/**
 * `dir`, 0700 and owned by `user` (the current user when undefined). A tree a root Caddy
 * left (the layout before Caddy ran unprivileged) is handed over, certificates included.
 */
export async function ownedDirectory(dir: string, user: SystemUser | undefined): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir);
  if (!info.isDirectory()) throw new Error(`${dir} should be a directory`);
  if (user && info.uid !== user.uid) await handOver(dir, user);
  await chmod(dir, 0o700);
}

/**
 * Children before their directory, never following a symlink, never into a directory the
 * user owns already: while a directory is being walked it is still root's, so the user
 * cannot swap what is inside it for a link to somewhere else.
 */
async function handOver(dir: string, user: SystemUser): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const child = path.join(dir, entry.name);
    if (entry.isDirectory() && (await lstat(child)).uid !== user.uid) await handOver(child, user);
    else await lchown(child, user.uid, user.gid);
  }
  await lchown(dir, user.uid, user.gid);
}

/** Every directory above `dir` must let `user` through, or Caddy cannot open its files. */
export async function checkReachable(dir: string, user: SystemUser): Promise<void> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const { mode, uid, gid } = await stat(current);
    const through =
      uid === user.uid ? mode & 0o100 : gid === user.gid ? mode & 0o010 : mode & 0o001;
    if (!through) {
      throw new CaddyDirError(
        `${current} (mode ${(mode & 0o777).toString(8)}) keeps ${user.name} out, and Caddy runs ` +
          `as ${user.name} with its files under ${dir}`,
        `let others through it (chmod o+x ${current}), or use a state directory below one that does, ` +
          'such as /var/lib/flotilla',
      );
    }
    if (current === path.dirname(current)) return;
  }
}
