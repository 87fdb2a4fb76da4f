// How `flotilla node setup` keeps a node's agent running: under systemd where the server runs
// it (a unit, enabled, restarted on failure and at boot), else as a detached process whose PID
// the agent records (containers, WSL, the lab). Both wait for the agent to record a new PID,
// which it does only once it has joined the bus.
import { spawn } from 'node:child_process';
import { access, mkdir, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isAlive } from '../system/proc.ts';
import { runningAgentPid, stopAgent } from './agent-pid.ts';
import { AGENT_UNIT_NAME, agentArgv, agentUnitText, type AgentUnitOptions } from './agent-unit.ts';
import { systemctl } from './systemctl.ts';
import { UNIT_DIR } from './systemd-unit.ts';
import { NodeSetupFailed } from './node-setup-error.ts';

const AGENT_START_TIMEOUT_MS = 60_000;

export type InitSystem = 'systemd' | 'none';

export interface AgentService {
  readonly init: InitSystem;
  /** Writes what the service needs; true when that changed anything. */
  install(): Promise<boolean>;
  running(): Promise<number | undefined>;
  /** Starts the agent, or restarts a running one; resolves with its new PID. */
  start(): Promise<number>;
}

/** systemd is the init system when /run/systemd/system exists (sd_booted(3)'s test). */
export async function detectInitSystem(): Promise<InitSystem> {
  return access('/run/systemd/system').then(
    () => 'systemd',
    () => 'none',
  );
}

export function agentService(init: InitSystem, unit: AgentUnitOptions): AgentService {
  return init === 'systemd' ? new SystemdAgent(unit) : new DetachedAgent(unit);
}

class SystemdAgent implements AgentService {
  readonly init = 'systemd';
  constructor(private readonly unit: AgentUnitOptions) {}

  async install(): Promise<boolean> {
    const file = path.join(UNIT_DIR, AGENT_UNIT_NAME);
    const text = agentUnitText(this.unit);
    if ((await readFile(file, 'utf8').catch(() => undefined)) === text) return false;
    await writeFile(file, text, { mode: 0o644 });
    await systemctl(['daemon-reload'], AGENT_UNIT_NAME);
    await systemctl(['enable', AGENT_UNIT_NAME], AGENT_UNIT_NAME);
    return true;
  }

  running(): Promise<number | undefined> {
    return runningAgentPid(this.unit.stateDir);
  }

  async start(): Promise<number> {
    const before = await this.running();
    // KillMode=process: only the agent gets the SIGTERM; it detaches from its services.
    await systemctl([before === undefined ? 'start' : 'restart', AGENT_UNIT_NAME], AGENT_UNIT_NAME);
    return waitForNewAgent(this.unit.stateDir, before, () =>
      systemctl(['is-active', '--quiet', AGENT_UNIT_NAME], AGENT_UNIT_NAME).then(
        () => undefined,
        () => `systemctl says ${AGENT_UNIT_NAME} is not active: journalctl -u ${AGENT_UNIT_NAME}`,
      ),
    );
  }
}

class DetachedAgent implements AgentService {
  readonly init = 'none';
  constructor(private readonly unit: AgentUnitOptions) {}

  install(): Promise<boolean> {
    return Promise.resolve(false);
  }

  running(): Promise<number | undefined> {
    return runningAgentPid(this.unit.stateDir);
  }

  async start(): Promise<number> {
    const before = await this.running();
    // SIGTERM: the agent detaches, leaving its services to the next one.
    if (before !== undefined) await stopAgent(this.unit.stateDir, before);
    const logFile = agentLogFile(this.unit.stateDir);
    await mkdir(path.dirname(logFile), { recursive: true });
    const log = await open(logFile, 'a', 0o600);
    try {
      const [node, ...rest] = agentArgv(this.unit);
      const child = spawn(node!, rest, {
        // Its own session: it outlives the SSH session that started it.
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
        env: { PATH: process.env.PATH, NO_COLOR: '1' },
      });
      child.unref();
      const pid = child.pid;
      return await waitForNewAgent(this.unit.stateDir, before, async () =>
        pid === undefined || !isAlive(pid)
          ? `it exited; the end of ${logFile}:\n${await logTail(logFile)}`
          : undefined,
      );
    } finally {
      await log.close();
    }
  }
}

export function agentLogFile(stateDir: string): string {
  return path.join(stateDir, 'agent.log');
}

async function logTail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-10).join('\n');
}

/** Polls the agent's PID file until a PID other than `before` runs; `failed` says why not. */
async function waitForNewAgent(
  stateDir: string,
  before: number | undefined,
  failed: () => Promise<string | undefined>,
): Promise<number> {
  const deadline = Date.now() + AGENT_START_TIMEOUT_MS;
  for (;;) {
    const pid = await runningAgentPid(stateDir);
    if (pid !== undefined && pid !== before) return pid;
    const why = await failed();
    if (why !== undefined || Date.now() > deadline)
      throw new NodeSetupFailed(
        `the agent did not start: ${why ?? 'it did not join the bus within 60 s'}`,
        `see ${agentLogFile(stateDir)}; \`flotilla node doctor --state-dir ${stateDir}\` on this server checks the mesh and firewall`,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
