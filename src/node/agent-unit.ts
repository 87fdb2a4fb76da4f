// The agent's command line and systemd unit, as `flotilla node setup` runs and writes them.
import { daemonUnitText } from './systemd-unit.ts';

export const AGENT_UNIT_NAME = 'flotilla-agent.service';

export interface AgentUnitOptions {
  /** node binary and CLI entry (the `current` release, so an upgrade needs no new unit). */
  command: string[];
  stateDir: string;
  /** `flotilla agent --address`: only when peers reach the node elsewhere than the stack says. */
  address?: string;
}

/** `flotilla agent …` as the unit and a detached start both run it. */
export function agentArgv(options: AgentUnitOptions): string[] {
  return [
    ...options.command,
    'agent',
    '--state-dir',
    options.stateDir,
    ...(options.address === undefined ? [] : ['--address', options.address]),
  ];
}

export function agentUnitText(options: AgentUnitOptions): string {
  return daemonUnitText({ description: 'Flotilla agent', execStart: agentArgv(options) });
}
