// What the kernel says about a process, read from /proc: its state, process group and start
// time. A PID alone is not an identity (PIDs are reused), so a process is only "ours" when
// its start time matches the one recorded when it was spawned.
//
// Reads are synchronous on purpose: /proc files are generated in memory and never block.
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcStat {
  /** One letter: R running, S sleeping, D disk wait, T stopped, Z zombie, X dead… */
  state: string;
  pgrp: number;
  /** Clock ticks after boot when the process started (field 22 of /proc/<pid>/stat). */
  startTime: number;
  /** User + system CPU time so far, in clock ticks (fields 14 and 15). */
  cpuTicks: number;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 (comm) may itself contain spaces and parentheses: the rest starts after the
  // last ')', with field 3 (state) first, so field N sits at index N - 3.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    state: fields[0] ?? '',
    pgrp: Number(fields[2]),
    startTime: Number(fields[19]),
    cpuTicks: Number(fields[11]) + Number(fields[12]),
  };
}

/** A zombie has finished; only its parent's bookkeeping is left. */
function isDead(stat: ProcStat): boolean {
  return stat.state === 'Z' || stat.state === 'X';
}

/** Whether `pid` exists and has not exited (a zombie in a container may never be reaped). */
export function isAlive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && !isDead(stat);
}

/** Whether `pid` is still the very process that started at `startTime` and has not exited. */
export function isRunning(pid: number, startTime: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && !isDead(stat) && stat.startTime === startTime;
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readProcStat(pid);
    if (stat !== undefined && stat.pgrp === pgid && !isDead(stat)) members.push(pid);
  }
  return members;
}

/** Signals a whole process group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}
