// The systemd unit `flotilla node setup` writes for a node's agent. KillMode=process: services
// run in the agent's cgroup, and a restart of the agent (an upgrade) must leave them running
// for the next agent to adopt; `flotilla down` stops them, not systemd.
export const AGENT_UNIT_NAME = 'flotilla-agent.service';
export const UNIT_DIR = '/etc/systemd/system';

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
  const execStart = agentArgv(options);
  for (const word of execStart)
    // Every word is a path of ours or a checked address: none can need systemd's quoting.
    if (!/^[\w./:@-]+$/.test(word)) throw new Error(`cannot put ${JSON.stringify(word)} in a unit`);
  return [
    '# Written by `flotilla node setup` (flotilla node add / node upgrade); a re-run rewrites it.',
    '[Unit]',
    'Description=Flotilla agent',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    `ExecStart=${execStart.join(' ')}`,
    'Restart=always',
    'RestartSec=2',
    'KillMode=process',
    'Environment=NO_COLOR=1',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
