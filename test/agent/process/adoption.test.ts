// Instances outlive the agent: a new supervisor adopts the running process from its record
// (same PID, no duplicate), watches it although it is not its child, and restarts it when
// it dies; a reused PID or an outdated spec is never adopted; orphans can be listed and
// stopped.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  listInstanceRecords,
  readInstanceRecord,
  writeInstanceRecord,
} from '../../../src/agent/process/instance-records.ts';
import { isRunning, readProcStat } from '../../../src/system/proc.ts';
import { stopRecordedInstance } from '../../../src/agent/process/terminate.ts';
import { Harness, nextEvent, node, waitFor } from './fixtures/harness.ts';

const harness = new Harness();
beforeEach(() => harness.setup());
afterEach(() => harness.cleanup());

// The first run crashes (so there is a restart to carry over), later runs stay up.
const CRASH_ONCE = `
  const fs = require('fs');
  const run = Number(fs.existsSync('runs') ? fs.readFileSync('runs', 'utf8') : 0) + 1;
  fs.writeFileSync('runs', String(run));
  if (run === 1) process.exit(1);
  setInterval(() => {}, 1000);`;

const runs = async () => Number(await readFile(path.join(harness.dir, 'runs'), 'utf8'));

describe('adoption', () => {
  it('adopts the running process after an agent restart and restarts it when it dies', async () => {
    const spec = harness.spec({ command: node(CRASH_ONCE) });
    const timing = { initialDelayMs: 10, pollMs: 50 };
    const first = harness.supervise(spec, timing);
    const restarted = new Promise<number>((resolve) =>
      first.on('started', ({ pid }) => first.status.restarts === 1 && resolve(pid)),
    );
    await first.start();
    const pid = await restarted;
    await waitFor(async () => (await runs().catch(() => 0)) === 2, 'the second run');
    // The agent dies: nothing is stopped, the process keeps running.
    first.detach();
    expect(isRunning(pid, readProcStat(pid)!.startTime)).toBe(true);

    const second = harness.supervise(spec, timing);
    const adopted = nextEvent(second, 'started');
    await second.start();
    expect((await adopted)[0]).toMatchObject({ pid, adopted: true });
    expect(second.status).toMatchObject({ state: 'running', pid, restarts: 1 });

    const exited = nextEvent(second, 'exited');
    const replaced = nextEvent(second, 'started');
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const [exit] = await exited;
    expect(exit).toMatchObject({ code: null, signal: null });
    expect(exit.at - killedAt).toBeLessThan(500);
    const [started] = await replaced;
    expect(started.adopted).toBe(false);
    expect(started.pid).not.toBe(pid);
    expect(second.status).toMatchObject({ state: 'running', restarts: 2 });
    // One new run, not two: the adoption started no duplicate.
    await waitFor(async () => (await runs()) === 3, 'the third run');
    expect(readInstanceRecord(spec.stateDir, spec.id)).toMatchObject({
      pid: started.pid,
      restarts: 2,
    });
    await second.stop();
    expect(isRunning(started.pid, readProcStat(started.pid)?.startTime ?? -1)).toBe(false);
  });

  it('does not adopt a PID that now belongs to another process', async () => {
    const spec = harness.spec();
    const bystander = spawn('/usr/bin/sleep', ['30'], { detached: true, stdio: 'ignore' });
    const bystanderPid = bystander.pid!;
    harness.track(bystanderPid);
    const startTime = readProcStat(bystanderPid)!.startTime;
    const supervisor = harness.supervise(spec);
    await mkdir(spec.stateDir);
    writeInstanceRecord(spec.stateDir, {
      id: spec.id,
      pid: bystanderPid,
      startTime: startTime - 1, // the PID was reused since the record was written
      specHash: supervisor.specHash,
      startedAt: Date.now() - 60_000,
      restarts: 7,
      stop: spec.stop,
    });

    const started = nextEvent(supervisor, 'started');
    await supervisor.start();
    const [{ pid, adopted }] = await started;
    expect(adopted).toBe(false);
    expect(pid).not.toBe(bystanderPid);
    expect(supervisor.status.restarts).toBe(0);
    expect(isRunning(bystanderPid, startTime)).toBe(true);
    expect(readInstanceRecord(spec.stateDir, spec.id)?.pid).toBe(pid);
    await supervisor.stop();
    expect(isRunning(bystanderPid, startTime)).toBe(true);
  });

  it('replaces a running process whose spec has changed instead of running two', async () => {
    const old = harness.supervise(harness.spec({ env: { VERSION: '1' } }));
    await old.start();
    const oldPid = old.status.pid!;
    const oldStart = readProcStat(oldPid)!.startTime;
    old.detach();

    const current = harness.supervise(harness.spec({ env: { VERSION: '2' } }));
    expect(current.specHash).not.toBe(old.specHash);
    const started = nextEvent(current, 'started');
    await current.start();
    expect((await started)[0].adopted).toBe(false);
    expect(isRunning(oldPid, oldStart)).toBe(false);
    expect(current.status.pid).not.toBe(oldPid);
    await current.stop();
  });

  it('lists the records on disk so orphans can be found and stopped', async () => {
    const orphan = harness.supervise(harness.spec({ id: 'gone-1' }));
    await orphan.start();
    const pid = orphan.status.pid!;
    const startTime = readProcStat(pid)!.startTime;
    orphan.detach();
    // A record whose process died while the agent was away.
    writeInstanceRecord(harness.stateDir, {
      id: 'dead-1',
      pid: 0x7ffffffe,
      startTime: 1,
      specHash: 'x',
      startedAt: 0,
      restarts: 0,
      stop: { signal: 'SIGTERM', timeoutMs: 1_000 },
    });

    const records = listInstanceRecords(harness.stateDir);
    expect(records.map((record) => record.id).sort()).toEqual(['dead-1', 'gone-1']);
    for (const record of records) await stopRecordedInstance(harness.stateDir, record);
    expect(isRunning(pid, startTime)).toBe(false);
    expect(listInstanceRecords(harness.stateDir)).toEqual([]);
  });

  it('stop() without start() stops what a previous agent left running', async () => {
    const spec = harness.spec();
    const previous = harness.supervise(spec);
    await previous.start();
    const pid = previous.status.pid!;
    const startTime = readProcStat(pid)!.startTime;
    previous.detach();

    await harness.supervise(spec).stop();
    expect(isRunning(pid, startTime)).toBe(false);
    expect(readInstanceRecord(spec.stateDir, spec.id)).toBeUndefined();
  });

  it('ignores unreadable records', async () => {
    expect(listInstanceRecords(path.join(harness.dir, 'missing'))).toEqual([]);
    await mkdir(harness.stateDir);
    await writeFile(path.join(harness.stateDir, 'broken-1.json'), '{"id": "broken-1"');
    await writeFile(path.join(harness.stateDir, 'wrong-1.json'), '{"id": "wrong-1"}');
    expect(listInstanceRecords(harness.stateDir)).toEqual([]);
    expect(readInstanceRecord(harness.stateDir, 'broken-1')).toBeUndefined();
  });
});
