// The systemd unit node setup writes for the agent: KillMode=process (an agent restart must
// not kill the services it will adopt), restarted always, run from the `current` release.
import { describe, expect, it } from 'vitest';
import { agentArgv, agentUnitText } from '../../src/node/agent-unit.ts';

const command = ['/opt/flotilla/current/node', '/opt/flotilla/current/bin/flotilla.js'];

describe('agentUnitText', () => {
  it('runs the current release with KillMode=process and Restart=always', () => {
    const unit = agentUnitText({ command, stateDir: '/var/lib/flotilla/agent' });
    expect(unit).toContain(
      '\nExecStart=/opt/flotilla/current/node /opt/flotilla/current/bin/flotilla.js agent --state-dir /var/lib/flotilla/agent\n',
    );
    expect(unit).toContain('\nKillMode=process\n');
    expect(unit).toContain('\nRestart=always\n');
    expect(unit).toContain('\nWantedBy=multi-user.target\n');
    expect(unit).toContain('\nAfter=network-online.target\n');
  });

  it('passes --address only when given', () => {
    const options = { command, stateDir: '/var/lib/flotilla/agent', address: '203.0.113.20' };
    expect(agentArgv(options).slice(-2)).toEqual(['--address', '203.0.113.20']);
    expect(agentUnitText(options)).toContain(
      'agent --state-dir /var/lib/flotilla/agent --address 203.0.113.20\n',
    );
  });

  it('refuses a word systemd would split or expand', () => {
    expect(() =>
      agentUnitText({ command, stateDir: '/var/lib/flo tilla', address: '203.0.113.20' }),
    ).toThrow(/cannot put .* in a systemd unit/);
    expect(() => agentUnitText({ command, stateDir: '/var/lib/$HOME' })).toThrow(
      /cannot put .* in a systemd unit/,
    );
  });
});
