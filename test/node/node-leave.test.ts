// `node leave`'s guards with real processes: it refuses while a service process of the node
// runs (its instance record), and stops the agent by its recorded PID only when that PID is
// still an agent. Removing the interface and table for real: test/cluster/node-leave.test.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeInstanceRecord } from '../../src/agent/process/instance-records.ts';
import { recordAgentPid, runningAgentPid, stopAgent } from '../../src/node/agent-pid.ts';
import { leaveNode, StackStillUp } from '../../src/node/node-leave.ts';
import { readProcStat } from '../../src/system/proc.ts';

describe('node leave guards', () => {
  let stateDir: string;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), 'flotilla-leave-'));
    await mkdir(path.join(stateDir, 'agent', 'instances'), { recursive: true });
  });

  afterEach(async () => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(stateDir, { recursive: true, force: true });
  });

  /** A process whose argv has `word` in it, as `flotilla agent` has `agent`. */
  function sleeper(word: string): number {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', word], {
      stdio: 'ignore',
    });
    children.push(child);
    return child.pid!;
  }

  it('refuses while a service instance of the node runs, naming it', async () => {
    const pid = sleeper('service');
    writeInstanceRecord(path.join(stateDir, 'agent', 'instances'), {
      id: 'web-1',
      pid,
      startTime: readProcStat(pid)!.startTime,
      specHash: 'x',
      startedAt: 0,
      restarts: 0,
      stop: { signal: 'SIGTERM', timeoutMs: 1000 },
    });
    const leaving = leaveNode({ stateDir });
    await expect(leaving).rejects.toThrow(StackStillUp);
    await expect(leaving).rejects.toThrow('1 service instance running (web-1)');
  });

  it('stops a recorded agent, and ignores a recorded PID that is not an agent', async () => {
    await recordAgentPid(stateDir, sleeper('not-it'));
    expect(await runningAgentPid(stateDir)).toBeUndefined();
    const agent = sleeper('agent');
    await recordAgentPid(stateDir, agent);
    expect(await runningAgentPid(stateDir)).toBe(agent);
    await stopAgent(stateDir, agent);
    expect(await runningAgentPid(stateDir)).toBeUndefined();
  });
});
