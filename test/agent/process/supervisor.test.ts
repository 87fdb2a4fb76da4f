// The process supervisor with real processes: exact environment, log files, restart
// policy and backoff, crash loops, graceful and forced stops of the whole process group,
// running as another user.
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readInstanceRecord } from '../../../src/agent/process/instance-records.ts';
import { isRunning, readProcStat } from '../../../src/system/proc.ts';
import type { ProcessSpec, ProcessSupervisor } from '../../../src/agent/process/supervisor.ts';
import { Harness, nextEvent, node, waitFor } from './fixtures/harness.ts';

const harness = new Harness();
beforeEach(() => harness.setup());
afterEach(() => harness.cleanup());

const FOREVER = 'setInterval(() => {}, 1000);';

function startedPids(supervisor: ProcessSupervisor): number[] {
  const pids: number[] = [];
  supervisor.on('started', ({ pid }) => pids.push(pid));
  return pids;
}

async function environOf(pid: number): Promise<Record<string, string>> {
  const raw = await readFile(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(
    raw
      .split('\0')
      .filter((entry) => entry !== '')
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  );
}

describe('ProcessSupervisor', () => {
  it('gives the child exactly the environment in its spec, nothing of the agent’s', async () => {
    process.env['FLOTILLA_AGENT_ONLY'] = 'must not leak';
    try {
      const env = { PATH: '/usr/bin:/bin', GREETING: 'hello world', EQUALS: 'a=b=c', EMPTY: '' };
      const supervisor = harness.supervise(harness.spec({ env }));
      await supervisor.start();
      const { pid, state } = supervisor.status;
      expect(state).toBe('running');
      const environ = await environOf(pid!);
      expect(environ).toEqual(env);
      expect(environ).not.toHaveProperty('FLOTILLA_AGENT_ONLY');
      await supervisor.stop();
    } finally {
      delete process.env['FLOTILLA_AGENT_ONLY'];
    }
  });

  it('runs the child in its own process group and records it on disk', async () => {
    const spec = harness.spec();
    const supervisor = harness.supervise(spec);
    await supervisor.start();
    const pid = supervisor.status.pid!;
    expect(readProcStat(pid)?.pgrp).toBe(pid);
    expect(readInstanceRecord(spec.stateDir, spec.id)).toMatchObject({
      id: spec.id,
      pid,
      startTime: readProcStat(pid)!.startTime,
      specHash: supervisor.specHash,
      restarts: 0,
      stop: spec.stop,
    });
    await supervisor.stop();
    expect(readInstanceRecord(spec.stateDir, spec.id)).toBeUndefined();
    expect(supervisor.status).toMatchObject({ state: 'stopped' });
    expect(supervisor.status.pid).toBeUndefined();
  });

  it('writes stdout and stderr to the instance log, through an appending descriptor', async () => {
    const spec = harness.spec({
      restart: 'never',
      command: node(`console.log('to stdout'); console.error('to stderr'); ${FOREVER}`),
    });
    const supervisor = harness.supervise(spec);
    await supervisor.start();
    await waitFor(async () => (await harness.log(spec)).includes('to stderr'), 'the output');
    expect(await harness.log(spec)).toBe('to stdout\nto stderr\n');
    await supervisor.stop();
  });

  it('rotates the log at its cap while the process writes, keeping N parts', async () => {
    const line = `${'x'.repeat(99)}\n`;
    const spec = harness.spec({
      restart: 'never',
      logMaxBytes: 2_000,
      logKeep: 2,
      command: node(`setInterval(() => process.stdout.write(${JSON.stringify(line)}), 5);`),
    });
    const supervisor = harness.supervise(spec, { logCheckMs: 50 });
    await supervisor.start();
    const file = supervisor.logFile;
    await waitFor(
      async () => (await stat(`${file}.2`).catch(() => undefined)) !== undefined,
      'two rotations',
    );
    await sleep(300); // more rotations: still only two parts
    await supervisor.stop();
    await expect(stat(`${file}.3`)).rejects.toThrow();
    for (const name of [file, `${file}.1`, `${file}.2`]) {
      const text = await readFile(name, 'utf8');
      // O_APPEND: after a truncation the writer starts again at 0, never leaving a hole.
      expect(text).not.toContain('\0');
      expect(
        text
          .split('\n')
          .slice(0, -1)
          .every((entry) => entry === line.trim()),
      ).toBe(true);
    }
    expect((await stat(`${file}.1`)).size).toBeGreaterThan(2_000);
  });

  it('rotates an oversized log when the instance starts', async () => {
    const spec = harness.spec({ logMaxBytes: 1_000 });
    const supervisor = harness.supervise(spec);
    await mkdir(harness.logDir);
    await writeFile(supervisor.logFile, 'old\n'.repeat(500));
    await supervisor.start();
    expect(await readFile(`${supervisor.logFile}.1`, 'utf8')).toBe('old\n'.repeat(500));
    expect((await stat(supervisor.logFile)).size).toBe(0);
    await supervisor.stop();
  });

  it('restarts a crashing process with delays growing ×1.5 up to the cap', async () => {
    // The real initial delay and factor; only the cap is lowered to keep the test short.
    const supervisor = harness.supervise(harness.spec({ command: ['/usr/bin/false'] }), {
      maxDelayMs: 400,
      maxUnstableStarts: 100,
    });
    const codes: (number | null)[] = [];
    const planned: number[] = [];
    const measured: number[] = [];
    let exitedAt = 0;
    supervisor.on('exited', ({ code, at }) => {
      codes.push(code);
      exitedAt = at;
    });
    supervisor.on('restarting', ({ delayMs }) => planned.push(delayMs));
    supervisor.on('started', () => {
      if (exitedAt) measured.push(Date.now() - exitedAt);
    });
    await supervisor.start();
    await waitFor(() => measured.length >= 6, 'six restarts');
    await supervisor.stop();

    expect(codes.slice(0, 6)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(planned.slice(0, 6)).toEqual([100, 150, 225, 337.5, 400, 400]);
    // Each restart really waited its delay. No upper bound: how late a timer fires says
    // how busy the machine is, not what the supervisor decided (that is `planned`).
    for (const [index, delay] of measured.slice(0, 6).entries())
      expect(delay).toBeGreaterThanOrEqual(planned[index]! - 1);
    expect(supervisor.status.restarts).toBeGreaterThanOrEqual(6);
  });

  it('marks a crash loop failed after 16 unstable starts and starts nothing more', async () => {
    const supervisor = harness.supervise(harness.spec({ command: ['/usr/bin/false'] }), {
      initialDelayMs: 5,
      maxDelayMs: 20,
    });
    const pids = startedPids(supervisor);
    const failed = nextEvent(supervisor, 'failed');
    await supervisor.start();
    const [{ unstableStarts }] = await failed;
    expect(unstableStarts).toBe(16);
    expect(pids).toHaveLength(16);
    expect(supervisor.status).toMatchObject({ state: 'failed', restarts: 15, unstableStarts: 16 });
    await sleep(200);
    expect(pids).toHaveLength(16);
    expect(
      pids.every((pid) => readProcStat(pid) === undefined || readProcStat(pid)?.state === 'Z'),
    ).toBe(true);
  });

  it('resets the backoff and the unstable count after a stable run', async () => {
    // Runs 1, 2 and 4 crash at once; run 3 stays up past resetAfterMs.
    const script = `
      const fs = require('fs');
      const run = Number(fs.existsSync('runs') ? fs.readFileSync('runs', 'utf8') : 0) + 1;
      fs.writeFileSync('runs', String(run));
      setTimeout(() => process.exit(1), run === 3 ? 1000 : 0);`;
    const supervisor = harness.supervise(harness.spec({ command: node(script) }), {
      initialDelayMs: 20,
      factor: 2,
      maxDelayMs: 1_000,
      minUptimeMs: 600,
      resetAfterMs: 900,
    });
    const delays: number[] = [];
    const unstable: number[] = [];
    supervisor.on('restarting', ({ delayMs }) => {
      delays.push(delayMs);
      unstable.push(supervisor.status.unstableStarts);
    });
    await supervisor.start();
    await waitFor(() => delays.length >= 4, 'four restarts');
    await supervisor.stop();
    expect(delays.slice(0, 4)).toEqual([20, 40, 20, 40]);
    expect(unstable.slice(0, 4)).toEqual([1, 2, 0, 1]);
  });

  it('restarts on-failure only after a failure, and never never', async () => {
    const runs = async (command: string[], restart: 'on-failure' | 'never') => {
      const supervisor = harness.supervise(
        harness.spec({ id: `svc-${restart}`, command, restart }),
      );
      const pids = startedPids(supervisor);
      const exited = nextEvent(supervisor, 'exited');
      await supervisor.start();
      const [exit] = await exited;
      await sleep(250); // longer than the first restart delay
      const result = { exit, pids: pids.length, state: supervisor.status.state };
      await supervisor.stop();
      return result;
    };
    expect(await runs(['/usr/bin/true'], 'on-failure')).toMatchObject({
      exit: { code: 0, signal: null },
      pids: 1,
      state: 'exited',
    });
    expect((await runs(['/usr/bin/false'], 'on-failure')).pids).toBeGreaterThan(1);
    expect(await runs(['/usr/bin/false'], 'never')).toMatchObject({
      exit: { code: 1 },
      pids: 1,
      state: 'exited',
    });
  });

  it('fails at once, with the reason, a start that cannot succeed as things are', async () => {
    // The first directory on the way that nobody may search is named (mkdtemp makes 0700).
    await chmod(harness.dir, 0o755);
    const locked = path.join(harness.dir, 'locked');
    await mkdir(path.join(locked, 'app'), { recursive: true, mode: 0o700 });
    await chmod(locked, 0o700);
    const cases: [Partial<ProcessSpec>, RegExp][] = [
      [
        { command: ['/nonexistent/program'] },
        /^command \/nonexistent\/program is not an executable file/,
      ],
      [
        { command: ['no-such-command-here'] },
        /^command not found: no-such-command-here \(searched/,
      ],
      [{ cwd: path.join(harness.dir, 'gone') }, /^working directory \S+gone does not exist$/],
      [
        { cwd: path.join(locked, 'app'), user: 'nobody' },
        /^cannot enter \S+locked\/app as user nobody: permission denied \(\S+locked is mode 700/,
      ],
    ];
    for (const [overrides, reason] of cases) {
      const supervisor = harness.supervise(harness.spec({ restart: 'always', ...overrides }));
      const failed = nextEvent(supervisor, 'failed');
      await supervisor.start();
      const [event] = await failed;
      expect(event.reason).toMatch(reason);
      expect(supervisor.status).toMatchObject({ state: 'failed', restarts: 0 });
      expect(supervisor.status.error).toMatch(reason);
      await supervisor.stop();
    }
    // Root enters any directory: the same start as root runs.
    const asRoot = harness.supervise(harness.spec({ cwd: path.join(locked, 'app') }));
    await asRoot.start();
    expect(asRoot.status.state).toBe('running');
    await asRoot.stop();
  });

  it('stops with the configured signal, which the service handles', async () => {
    const spec = harness.spec({
      command: node(
        `process.on('SIGINT', () => { console.log('got SIGINT'); process.exit(0); });
         console.log('ready'); ${FOREVER}`,
      ),
      stop: { signal: 'SIGINT', timeoutMs: 5_000 },
    });
    const supervisor = harness.supervise(spec);
    const restarting: unknown[] = [];
    supervisor.on('restarting', (event) => restarting.push(event));
    await supervisor.start();
    await waitFor(async () => (await harness.log(spec)).includes('ready'), 'the handler');
    const stopped = nextEvent(supervisor, 'stopped');
    const began = Date.now();
    await supervisor.stop();
    await stopped;
    expect(Date.now() - began).toBeLessThan(2_000);
    expect(await harness.log(spec)).toContain('got SIGINT');
    expect(supervisor.status).toMatchObject({
      state: 'stopped',
      lastExit: { code: 0, signal: null },
    });
    await sleep(100);
    expect(restarting).toEqual([]);
  });

  it('kills a process that ignores the stop signal once the timeout has passed', async () => {
    const spec = harness.spec({
      command: node(
        `process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('ready'); ${FOREVER}`,
      ),
      stop: { signal: 'SIGTERM', timeoutMs: 300 },
    });
    const supervisor = harness.supervise(spec);
    await supervisor.start();
    const pid = supervisor.status.pid!;
    await waitFor(async () => (await harness.log(spec)).includes('ready'), 'the handler');
    const began = Date.now();
    await supervisor.stop();
    expect(Date.now() - began).toBeGreaterThanOrEqual(300);
    expect(await harness.log(spec)).toContain('ignoring SIGTERM');
    expect(supervisor.status.lastExit).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(readProcStat(pid)).toBeUndefined();
  });

  it('stops the whole process group, grandchildren included', async () => {
    const spec = harness.spec({
      command: node(
        `const c = require('child_process').spawn('/usr/bin/sleep', ['30'], { stdio: 'ignore' });
         console.log('grandchild ' + c.pid); ${FOREVER}`,
      ),
    });
    const supervisor = harness.supervise(spec);
    await supervisor.start();
    const grandchild = await grandchildOf(spec);
    expect(readProcStat(grandchild.pid)?.pgrp).toBe(supervisor.status.pid);
    await supervisor.stop();
    expect(isRunning(grandchild.pid, grandchild.startTime)).toBe(false);
  });

  it('kills what a crashed process left behind in its group', async () => {
    const spec = harness.spec({
      restart: 'never',
      command: node(
        `const c = require('child_process').spawn('/usr/bin/sleep', ['30'], { stdio: 'ignore' });
         console.log('grandchild ' + c.pid); setTimeout(() => process.exit(3), 200);`,
      ),
    });
    const supervisor = harness.supervise(spec);
    const exited = nextEvent(supervisor, 'exited');
    await supervisor.start();
    const grandchild = await grandchildOf(spec);
    await exited;
    await waitFor(() => !isRunning(grandchild.pid, grandchild.startTime), 'the grandchild to die');
  });

  it.skipIf(process.getuid?.() !== 0)('runs the child as the configured user', async () => {
    const supervisor = harness.supervise(harness.spec({ user: 'nobody', cwd: '/' }));
    await supervisor.start();
    const status = await readFile(`/proc/${supervisor.status.pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\t65534\t65534\t65534\t65534$/m);
    expect(status).toMatch(/^Gid:\t65534\t65534\t65534\t65534$/m);
    // No supplementary groups: root's are dropped, not inherited.
    expect(status).toMatch(/^Groups:\s*$/m);
    await supervisor.stop();
  });
});

/** The PID the test service printed, tracked for cleanup. */
async function grandchildOf(
  spec: ReturnType<Harness['spec']>,
): Promise<{ pid: number; startTime: number }> {
  let pid = 0;
  await waitFor(async () => {
    pid = Number(/grandchild (\d+)/.exec(await harness.log(spec))?.[1] ?? 0);
    return pid > 0;
  }, 'the grandchild');
  harness.track(pid);
  return { pid, startTime: readProcStat(pid)!.startTime };
}
