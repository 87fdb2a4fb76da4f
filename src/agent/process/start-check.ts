// What would make every start of a process fail the same way, checked before each start: a
// working directory that is missing or that the service's user cannot enter, a command that
// is not there. Such an instance fails at once with the reason (`up` and `status` show it),
// instead of going through every backoff restart first; `flotilla restart` or an apply tries
// again once the cause is fixed.
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { SystemUser } from '../../system/users.ts';

/** A start that cannot succeed until something on the node changes. */
export class StartRefused extends Error {}

function statOrUndefined(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Whether `user` may search `dir`, by its mode bits. The process runs with the user's uid and
 * primary gid only: Node drops supplementary groups when it switches users.
 */
function maySearch(stats: Stats, user: SystemUser): boolean {
  if (stats.uid === user.uid) return (stats.mode & 0o100) !== 0;
  if (stats.gid === user.gid) return (stats.mode & 0o010) !== 0;
  return (stats.mode & 0o001) !== 0;
}

function checkDirectory(cwd: string, user: SystemUser | undefined): void {
  const stats = statOrUndefined(cwd);
  if (!stats) throw new StartRefused(`working directory ${cwd} does not exist`);
  if (!stats.isDirectory()) throw new StartRefused(`working directory ${cwd} is not a directory`);
  if (user === undefined || user.uid === 0) return;
  // Every directory on the way must be searchable, not only the last.
  let dir = '/';
  for (const part of path.resolve(cwd).split('/').filter(Boolean)) {
    dir = path.join(dir, part);
    const step = statSync(dir);
    if (!maySearch(step, user))
      throw new StartRefused(
        `cannot enter ${cwd} as user ${user.name}: permission denied (${dir} is mode ${(step.mode & 0o777).toString(8)}, owner uid ${step.uid} gid ${step.gid})`,
      );
  }
}

function isExecutableFile(file: string): boolean {
  const stats = statOrUndefined(file);
  if (!stats?.isFile()) return false;
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** As spawn finds it: a path (relative to the working directory), else along the child's PATH. */
function checkCommand(program: string, cwd: string, env: Record<string, string>): void {
  if (program.includes('/')) {
    const file = path.resolve(cwd, program);
    if (!isExecutableFile(file))
      throw new StartRefused(`command ${program} is not an executable file (${file})`);
    return;
  }
  // Without PATH, spawn falls back to a default of its own: nothing to check against.
  if (env['PATH'] === undefined) return;
  const search = env['PATH'].split(':').filter(Boolean);
  if (!search.some((dir) => isExecutableFile(path.resolve(cwd, dir, program))))
    throw new StartRefused(
      `command not found: ${program} (searched the service's PATH: ${search.join(':')})`,
    );
}

export function checkStart(
  spec: { command: string[]; cwd: string; env: Record<string, string> },
  user: SystemUser | undefined,
): void {
  checkDirectory(spec.cwd, user);
  checkCommand(spec.command[0] ?? '', spec.cwd, spec.env);
}
