// The agent's PID, recorded in its state dir while it runs, so `flotilla node leave` stops
// that very process (checked against /proc: still a flotilla agent) and never one found by name.
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isAlive } from '../system/proc.ts';

const STOP_TIMEOUT_MS = 15_000;

export function agentPidFile(stateDir: string): string {
  return path.join(stateDir, 'agent', 'agent.pid');
}

/** Called by the agent once it runs; `clearAgentPid` when it stops. */
export async function recordAgentPid(stateDir: string, pid = process.pid): Promise<void> {
  await writeFile(agentPidFile(stateDir), `${pid}\n`, { mode: 0o600 });
}

export async function clearAgentPid(stateDir: string): Promise<void> {
  await rm(agentPidFile(stateDir), { force: true });
}

/** The recorded agent PID, when that process still runs and is a flotilla agent. */
export async function runningAgentPid(stateDir: string): Promise<number | undefined> {
  const pid = Number((await readFile(agentPidFile(stateDir), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || !isAlive(pid)) return undefined;
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  return argv.includes('agent') ? pid : undefined;
}

/** SIGTERM (the agent detaches), then waits for it to exit; the pid file goes with it. */
export async function stopAgent(stateDir: string, pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`the agent (pid ${pid}) did not stop in 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await clearAgentPid(stateDir);
}
