// `flotilla hub --install-unit`: the unit it writes (this install's node and CLI, the stack
// file, KillMode=process, the state dir when not the default), a path systemd would split
// refused with a hint, and a machine without systemd told to use --detach, changing nothing.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hubUnitText } from '../../src/node/hub-unit.ts';
import { NodeSetupFailed } from '../../src/node/node-setup-error.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';

const hasSystemd = existsSync('/run/systemd/system');

describe('hubUnitText', () => {
  it('runs this install’s hub on the stack file, with KillMode=process', () => {
    const unit = hubUnitText({
      stackFile: '/etc/flotilla/flotilla.yml',
      address: '203.0.113.10',
      stateDir: '/srv/flotilla',
    });
    expect(unit).toContain(
      `\nExecStart=${process.execPath} ${path.resolve('bin/flotilla.js')} hub -f /etc/flotilla/flotilla.yml --address 203.0.113.10\n`,
    );
    expect(unit).toContain('\nKillMode=process\n');
    expect(unit).toContain('\nRestart=always\n');
    expect(unit).toContain('\nEnvironment=FLOTILLA_STATE_DIR=/srv/flotilla\n');
  });

  it('refuses a stack file path systemd would split, with a hint', () => {
    const refused = (() => {
      try {
        return hubUnitText({ stackFile: '/etc/my stack/flotilla.yml' });
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(NodeSetupFailed);
    expect((refused as NodeSetupFailed).hint).toContain('/etc/flotilla/flotilla.yml');
  });
});

describe.skipIf(hasSystemd)('hub --install-unit without systemd', () => {
  it('says to use --detach and exits 1', async () => {
    const result = await flotilla([
      'hub',
      '--install-unit',
      '-f',
      path.resolve('examples/quickstart/flotilla.yml'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'flotilla hub: this machine does not run systemd, so there is no unit to install\nhint: start the hub with `flotilla hub --detach` instead (it does not start again after a reboot)\n',
    );
    expect(existsSync('/etc/systemd/system/flotilla-hub.service')).toBe(false);
  });
});
