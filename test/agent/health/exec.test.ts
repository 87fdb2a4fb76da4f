// The exec probe runs real commands: argv only, the instance's env and cwd, killed (with
// everything it started) at the timeout.
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { probeExec } from '../../../src/agent/health/exec.ts';

let dir: string;
/** Every PID a test learns about, killed in afterEach if still around. */
const pids = new Set<number>();

/** Alive and not a zombie waiting for its parent to reap it. */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-exec-'));
});

afterEach(async () => {
  for (const pid of pids) {
    if (await alive(pid)) process.kill(pid, 'SIGKILL');
  }
  pids.clear();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (command: string[], env: Record<string, string> = {}, timeoutMs = 2000) =>
  probeExec({ command, env, cwd: dir, timeoutMs });

describe('the exec probe', () => {
  it('passes on exit 0 and fails on any other exit, with the last line of output', async () => {
    expect(await run(['true'])).toEqual({ ok: true, detail: 'exit 0' });
    expect(await run(['false'])).toEqual({ ok: false, detail: 'exit 1' });
    expect(await run(['sh', '-c', 'echo starting; echo "not ready" >&2; exit 3'])).toEqual({
      ok: false,
      detail: 'exit 3: not ready',
    });
  });

  it('passes arguments literally, never through a shell', async () => {
    const marker = path.join(dir, 'injected');
    expect(await run(['test', `x; touch ${marker}`, '=', `x; touch ${marker}`])).toEqual({
      ok: true,
      detail: 'exit 0',
    });
    await expect(readFile(marker)).rejects.toThrow();
  });

  it("runs with the instance's environment only, in its directory", async () => {
    await writeFile(path.join(dir, 'here'), '');
    const script = 'test "$FLOTILLA_CHECK" = yes && test -z "$HOME" && test -f here';
    expect(await run(['sh', '-c', script], { FLOTILLA_CHECK: 'yes' })).toEqual({
      ok: true,
      detail: 'exit 0',
    });
    expect((await run(['sh', '-c', script], { FLOTILLA_CHECK: 'no' })).ok).toBe(false);
  });

  it('kills the command and everything it started at the timeout', async () => {
    const pidFile = path.join(dir, 'pids');
    // The shell and a background grandchild, both recorded, both sleeping past the timeout.
    const script = `sleep 30 & echo $$ $! > ${pidFile}; wait`;
    const started = Date.now();
    const result = await run(['sh', '-c', script], {}, 300);
    const elapsed = Date.now() - started;
    const recorded = (await readFile(pidFile, 'utf8')).trim().split(' ').map(Number);
    recorded.forEach((pid) => pids.add(pid));
    expect(result).toEqual({ ok: false, detail: 'timed out after 300ms' });
    // Ended by the timeout, not by the 30 s sleep: a bound far from both, whatever the load.
    expect(elapsed).toBeLessThan(10_000);
    expect(recorded).toHaveLength(2);
    for (const pid of recorded) await expect.poll(() => alive(pid), { timeout: 1000 }).toBe(false);
  });

  it('leaves nothing behind when the command exits but its children linger', async () => {
    const pidFile = path.join(dir, 'lingering');
    const result = await run(['sh', '-c', `sleep 30 & echo $! > ${pidFile}`], {}, 2000);
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    pids.add(pid);
    expect(result).toEqual({ ok: true, detail: 'exit 0' });
    await expect.poll(() => alive(pid), { timeout: 1000 }).toBe(false);
  });

  it('fails clearly when the program does not exist', async () => {
    expect(await run(['flotilla-no-such-program'])).toEqual({
      ok: false,
      detail: 'cannot run flotilla-no-such-program: ENOENT',
    });
  });
});
