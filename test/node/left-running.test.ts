// What `down` says it leaves on each node: the mesh interface and firewall table a node's
// network has, with the command that removes them; nothing for a node with neither.
import { describe, expect, it } from 'vitest';
import { leftOnNode, leftRunningLines } from '../../src/node/left-running.ts';

const MESH = { interface: 'flo-db', address: '100.96.0.2/16', listen_port: 51820, peers: [] };

describe('what down leaves running', () => {
  it('names the interface and the firewall table of a node that has both', () => {
    expect(leftOnNode('db', { mesh: MESH, firewall: 'table inet flotilla {}' }, '/srv/f')).toEqual({
      node: 'db',
      interface: 'flo-db',
      firewall: 'inet flotilla',
      state_dir: '/srv/f',
    });
  });

  it('leaves out a tailnet node’s interface (Tailscale’s) and a node with nothing', () => {
    expect(leftOnNode('db', { firewall: 'x' }, undefined)).toEqual({
      node: 'db',
      firewall: 'inet flotilla',
    });
    expect(leftOnNode('db', { firewall: '' }, '/srv/f')).toBeUndefined();
  });

  it('prints one line per node with the command, and nothing when nothing is left', () => {
    expect(leftRunningLines([])).toEqual([]);
    const lines = leftRunningLines([
      { node: 'gw', interface: 'flo-gw', firewall: 'inet flotilla', state_dir: '/var/lib/f' },
      { node: 'db', firewall: 'inet flotilla' },
    ]);
    expect(lines[0]).toMatch(/^left running on purpose/);
    expect(lines.slice(1)).toEqual([
      '  gw: mesh interface flo-gw, firewall table inet flotilla',
      '    remove them on gw with: flotilla node leave --state-dir /var/lib/f',
      '  db: firewall table inet flotilla',
      '    remove them on db with: flotilla node leave',
    ]);
  });
});
