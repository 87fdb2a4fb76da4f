// Where `flotilla node add` puts Flotilla on a server, known to both ends: the CLI that
// uploads a release and `flotilla node setup`, which runs from that release on the server.
//
//   /opt/flotilla/releases/<id>/   one unpacked release: node, bin/, dist/, scripts/
//   /opt/flotilla/current          symlink to the release the agent runs (swapped atomically)
//   /usr/local/bin/flotilla        a wrapper, so `flotilla node doctor` works on the server
//   /var/lib/flotilla/agent        the agent's state dir (membership, keys, instances)
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The Flotilla this process runs from: two levels up, from src/node/ or from dist/cli/ (where
 * the compiled build puts every chunk) alike. On a server, a release dir.
 */
export const RUNNING_INSTALL_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));

export const INSTALL_PREFIX = '/opt/flotilla';
export const RELEASES_DIR = path.join(INSTALL_PREFIX, 'releases');
export const CURRENT_LINK = path.join(INSTALL_PREFIX, 'current');
export const WRAPPER_FILE = '/usr/local/bin/flotilla';
export const AGENT_STATE_DIR = '/var/lib/flotilla/agent';
/** Marks an unpacked release as whole: an upload cut short never counts as installed. */
export const COMPLETE_MARKER = '.complete';

export function releaseDir(id: string): string {
  return path.join(RELEASES_DIR, id);
}

/** The node binary and CLI entry of the release a directory holds (a release's own layout). */
export function releaseCommand(dir: string): string[] {
  return [path.join(dir, 'node'), path.join(dir, 'bin', 'flotilla.js')];
}
