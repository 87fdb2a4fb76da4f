// cgroup2 for native services: finding where this machine mounts it, making a service's
// cgroup, and starting a process inside it. A process must be in its cgroup before it runs
// a line of the service's code (a socket keeps the cgroup it was opened in), so the child is
// not moved after the fact: the supervisor moves itself into the cgroup, forks, and moves
// back, all in one synchronous step, and the child is born there.
import { mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class CgroupError extends Error {}

/**
 * Where cgroup2 is mounted (`/sys/fs/cgroup`; `/sys/fs/cgroup/unified` on a v1 hybrid),
 * undefined when it is not, or only a sub-tree of it is (its levels would not count from
 * the root). `/sys/fs/cgroup` is preferred: it is where nft looks cgroup paths up.
 */
export function cgroup2Mount(mountinfo = '/proc/self/mountinfo'): string | undefined {
  let text: string;
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    return undefined;
  }
  const mounts = text
    .split('\n')
    .map((line) => {
      // id parent major:minor root mountpoint options [optional…] - fstype source superopts
      const [before, after] = line.split(' - ');
      const fields = before?.split(' ') ?? [];
      return { root: fields[3], point: fields[4], type: after?.split(' ')[0] };
    })
    .filter((mount) => mount.type === 'cgroup2' && mount.root === '/' && mount.point)
    .map((mount) => mount.point!.replace(/\\040/g, ' '));
  return mounts.find((point) => point === '/sys/fs/cgroup') ?? mounts[0];
}

/** The cgroup2 path of `pid` (`/flotilla/s/n/api`), from /proc; undefined when it is gone. */
export function cgroupOf(pid: number | 'self'): string | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith('0::'));
    return line?.slice(3);
  } catch {
    return undefined;
  }
}

/** Makes `cgroup` (relative to the cgroup2 root) and its parents; returns its id (inode). */
export function ensureCgroup(mount: string, cgroup: string): number {
  const dir = path.join(mount, cgroup);
  mkdirSync(dir, { recursive: true });
  return statSync(dir).ino;
}

/** Removes an empty cgroup; false when it still holds processes (or a child) or is gone. */
export function removeCgroup(mount: string, cgroup: string): boolean {
  try {
    rmdirSync(path.join(mount, cgroup));
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EBUSY' || code === 'ENOTEMPTY') return false;
    throw error;
  }
}

function moveSelf(mount: string, cgroup: string): void {
  writeFileSync(path.join(mount, cgroup, 'cgroup.procs'), String(process.pid));
}

/**
 * Runs `start` (which forks, e.g. child_process.spawn) with this process inside `cgroup`, so
 * that the child starts there; this process is back in its own cgroup when it returns.
 * Nothing else of ours runs meanwhile: the step is synchronous.
 */
export function startInCgroup<T>(mount: string, cgroup: string, start: () => T): T {
  const own = cgroupOf('self');
  if (own === undefined) throw new CgroupError('cannot read this process’s own cgroup');
  try {
    ensureCgroup(mount, cgroup);
    moveSelf(mount, cgroup);
  } catch (error) {
    throw new CgroupError(
      `cannot start in cgroup ${cgroup}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  try {
    return start();
  } finally {
    try {
      moveSelf(mount, own);
    } catch {
      // Our own cgroup is gone: anywhere is better than staying in the service's.
      moveSelf(mount, '/');
    }
  }
}
