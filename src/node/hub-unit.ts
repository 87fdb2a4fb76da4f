// `flotilla hub --install-unit`: the hub node's systemd unit, written from the command line the
// operator would otherwise copy from the README, then enabled and (re)started. The agents'
// units are node setup's (agent-unit.ts); the hub node is set up by hand, where it runs.
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { detectInitSystem } from './agent-service.ts';
import { RUNNING_INSTALL_ROOT } from './install-layout.ts';
import { NodeSetupFailed } from './node-setup-error.ts';
import { systemctl } from './systemctl.ts';
import { daemonUnitText, UNIT_DIR, UnitWordUnsafe } from './systemd-unit.ts';

export const HUB_UNIT_NAME = 'flotilla-hub.service';

export interface HubUnitOptions {
  /** Absolute path of the stack file the hub runs. */
  stackFile: string;
  node?: string;
  address?: string;
  /** FLOTILLA_STATE_DIR, when the hub's state is not in the default place. */
  stateDir?: string;
}

export function hubUnitText(options: HubUnitOptions): string {
  try {
    return daemonUnitText({
      description: 'Flotilla hub',
      execStart: [
        process.execPath,
        path.join(RUNNING_INSTALL_ROOT, 'bin', 'flotilla.js'),
        'hub',
        '-f',
        options.stackFile,
        ...(options.node === undefined ? [] : ['--node', options.node]),
        ...(options.address === undefined ? [] : ['--address', options.address]),
      ],
      ...(options.stateDir === undefined
        ? {}
        : { environment: { FLOTILLA_STATE_DIR: options.stateDir } }),
    });
  } catch (error) {
    if (!(error instanceof UnitWordUnsafe)) throw error;
    throw new NodeSetupFailed(
      `${error.message}: a unit's command line cannot hold spaces, quotes, $ or %`,
      'move the stack file (or the install) to a path of plain characters, e.g. /etc/flotilla/flotilla.yml',
    );
  }
}

/** Writes, enables and starts the unit; restarts a running hub only when the unit changed. */
export async function installHubUnit(options: HubUnitOptions): Promise<'written' | 'unchanged'> {
  if ((await detectInitSystem()) !== 'systemd')
    throw new NodeSetupFailed(
      'this machine does not run systemd, so there is no unit to install',
      'start the hub with `flotilla hub --detach` instead (it does not start again after a reboot)',
    );
  const file = path.join(UNIT_DIR, HUB_UNIT_NAME);
  const text = hubUnitText(options);
  const unchanged = (await readFile(file, 'utf8').catch(() => undefined)) === text;
  if (!unchanged) {
    await writeFile(`${file}.partial`, text, { mode: 0o644 });
    await rename(`${file}.partial`, file);
    await systemctl(['daemon-reload'], HUB_UNIT_NAME);
  }
  await systemctl(['enable', HUB_UNIT_NAME], HUB_UNIT_NAME);
  // KillMode=process: a restart leaves the hub node's services to the next daemon.
  await systemctl([unchanged ? 'start' : 'restart', HUB_UNIT_NAME], HUB_UNIT_NAME);
  return unchanged ? 'unchanged' : 'written';
}
