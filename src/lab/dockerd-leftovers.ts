// What a private dockerd can leave behind when it crashed or was killed, and how to find and
// remove it without touching anything else on the machine: its containers' processes (listed
// by the kernel in the daemon's own cgroup parent), its containerd and shims (whose argv names
// the daemon's own dir), mounts below that dir, and the cgroup parent itself. Every process
// is identified by what /proc says about it, never by a name pattern.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A /proc file of `pid`; '' once it is gone or a zombie (nothing left to kill). */
export function procFile(pid: number, name: string): string {
  try {
    if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return '';
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return '';
  }
}

/** Whether `pid`'s argv names a path below `dir`. */
export function namesDir(pid: number, dir: string): boolean {
  return procFile(pid, 'cmdline').includes(`${dir}/`);
}

/** PIDs whose argv names a path below `dir`. */
export function processesNaming(dir: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => namesDir(pid, dir));
}

/** Whether `pid` belongs to the cgroup parent (any hierarchy, any depth). */
export function inCgroup(pid: number, parent: string): boolean {
  return procFile(pid, 'cgroup').includes(`${parent}/`);
}

/** Every PID in the cgroup parent (any hierarchy, any depth). */
export function cgroupProcs(parent: string): number[] {
  const pids = new Set<number>();
  const walk = (cgroup: string) => {
    let entries;
    try {
      entries = readdirSync(cgroup, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.isDirectory()) walk(path.join(cgroup, entry.name));
      if (entry.name !== 'cgroup.procs') continue;
      for (const line of readFileSync(path.join(cgroup, entry.name), 'utf8').split('\n')) {
        if (line !== '') pids.add(Number(line));
      }
    }
  };
  for (const root of cgroupRoots()) walk(path.join(root, parent));
  return [...pids];
}

/** SIGKILLs each PID that is still ours, then waits (up to `timeoutMs`) until none is. */
export async function killAll(
  pids: number[],
  ours: (pid: number) => boolean,
  timeoutMs: number,
): Promise<void> {
  for (const pid of pids) {
    if (!ours(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (pids.some(ours) && Date.now() < deadline) await sleep(50);
}

/** Where cgroup hierarchies are mounted: /sys/fs/cgroup (v2) and each v1 controller. */
function cgroupRoots(): string[] {
  let entries: string[] = [];
  try {
    entries = readdirSync('/sys/fs/cgroup');
  } catch {
    // No cgroups mounted.
  }
  return ['/sys/fs/cgroup', ...entries.map((name) => path.join('/sys/fs/cgroup', name))];
}

/** Mounts a crashed dockerd left below `dir` (in our mount namespace), deepest first. */
export async function unmountBelow(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((point): point is string => point !== undefined && point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) await run('umount', ['-l', point]).catch(() => undefined);
}

/** The cgroup parent in every hierarchy, its children (the containers') first. */
export async function removeCgroups(parent: string): Promise<void> {
  const remove = async (cgroup: string): Promise<void> => {
    const entries = await readdir(cgroup, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isDirectory()) await remove(path.join(cgroup, entry.name));
    }
    await rmdir(cgroup).catch(() => undefined);
  };
  for (const root of cgroupRoots()) {
    const cgroup = path.join(root, parent);
    if (existsSync(cgroup)) await remove(cgroup);
  }
}
