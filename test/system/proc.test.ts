// /proc/<pid>/stat parsing: state, group and start time, even for a command name with
// spaces and parentheses; a start time that does not match means "not that process".
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { groupMembers, isRunning, readProcStat, signalGroup } from '../../src/system/proc.ts';
import { waitFor } from '../agent/process/fixtures/harness.ts';

let dir: string | undefined;
const started: number[] = [];

afterEach(async () => {
  for (const pid of started.splice(0)) signalGroup(pid, 'SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('proc', () => {
  it('parses a process whose name has spaces and parentheses', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-proc-'));
    const program = path.join(dir, 'x) y (z');
    await copyFile('/usr/bin/sleep', program);
    const child = spawn(program, ['30'], { detached: true, stdio: 'ignore', env: {} });
    const pid = child.pid!;
    started.push(pid);
    const stat = readProcStat(pid)!;
    expect(stat.pgrp).toBe(pid);
    expect(stat.startTime).toBeGreaterThan(0);
    expect(stat.startTime).toBeGreaterThanOrEqual(readProcStat(process.pid)!.startTime);
    expect(isRunning(pid, stat.startTime)).toBe(true);
    expect(isRunning(pid, stat.startTime + 1)).toBe(false);
    expect(groupMembers(pid)).toEqual([pid]);

    const exited = new Promise((resolve) => child.once('exit', resolve));
    expect(signalGroup(pid, 'SIGKILL')).toBe(true);
    await exited;
    await waitFor(() => !isRunning(pid, stat.startTime), 'the process to be gone');
    expect(groupMembers(pid)).toEqual([]);
    expect(signalGroup(pid, 'SIGKILL')).toBe(false);
  });

  it('knows no process that does not exist', () => {
    expect(readProcStat(0x7fffffff)).toBeUndefined();
  });
});
