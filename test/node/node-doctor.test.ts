// `node doctor`'s checks with injected inputs (every threshold), its parsers on real output
// shapes, and one real run on this machine against a temp state dir.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkClock,
  checkCommands,
  checkDisk,
  checkFirewall,
  checkMesh,
  checkPorts,
} from '../../src/node/doctor-checks.ts';
import { doctorNode, parseSsListeners, parseWantedCommands } from '../../src/node/node-doctor.ts';
import type { PeerStatus } from '../../src/mesh/wireguard.ts';

const NOW = new Date('2026-12-01T08:00:00Z');
const CLUSTER_UP = { running: true, cluster: true };

function peer(secondsAgo: number | undefined): PeerStatus {
  return {
    publicKey: 'k',
    endpoint: '203.0.113.12:51820',
    allowedIps: [],
    latestHandshake:
      secondsAgo === undefined ? undefined : new Date(NOW.getTime() - secondsAgo * 1000),
    rxBytes: 0,
    txBytes: 0,
    persistentKeepalive: 25,
  };
}

describe('node doctor checks', () => {
  it('reads the command list from scripts/install-system-deps.sh', async () => {
    const wanted = parseWantedCommands(
      await readFile(path.resolve('scripts/install-system-deps.sh'), 'utf8'),
    );
    expect(wanted).toContainEqual({ command: 'nft', pkg: 'nftables' });
    expect(wanted).toContainEqual({ command: 'wireguard-go', pkg: 'wireguard-go' });
    const missing = checkCommands(wanted, (command) => command !== 'nft');
    expect(missing).toMatchObject({ status: 'fail', detail: 'missing: nft (nftables)' });
    expect(missing.hint).toContain('apt-get install nftables');
    expect(checkCommands(wanted, () => true).status).toBe('ok');
  });

  it('ports: free or Flotilla’s is ok, another process fails, an unknown owner warns', () => {
    const listeners = parseSsListeners(
      [
        'LISTEN 0 511 0.0.0.0:443 0.0.0.0:* users:(("caddy",pid=10,fd=7))',
        'LISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:(("nginx",pid=20,fd=6))',
        'LISTEN 0 128 [::]:8080 [::]:*',
      ].join('\n'),
    );
    expect(listeners).toEqual([
      { port: 443, process: 'caddy', pid: 10 },
      { port: 80, process: 'nginx', pid: 20 },
      { port: 8080 },
    ]);
    const ours = (pid: number) => pid === 10;
    expect(checkPorts([{ port: 443, what: 'gateway https' }], listeners, ours).status).toBe('ok');
    expect(checkPorts([{ port: 9000, what: 'service x' }], listeners, ours).status).toBe('ok');
    const taken = checkPorts([{ port: 80, what: 'gateway http' }], listeners, ours);
    expect(taken).toMatchObject({
      status: 'fail',
      detail: '80 (gateway http) is held by nginx (pid 20)',
    });
    expect(checkPorts([{ port: 8080, what: 'service web' }], listeners, ours).status).toBe('warn');
    expect(checkPorts([], listeners, ours).status).toBe('skip');
  });

  it('firewall: needed while a cluster node runs, skipped otherwise', () => {
    expect(checkFirewall(CLUSTER_UP, true).status).toBe('ok');
    expect(checkFirewall(CLUSTER_UP, false).status).toBe('fail');
    expect(checkFirewall({ running: false, cluster: true }, true).status).toBe('skip');
    expect(checkFirewall({ running: true, cluster: false }, false).status).toBe('skip');
  });

  it('mesh: up with recent handshakes; a stale or missing handshake warns; down fails', () => {
    const mesh = (peers: PeerStatus[], up = true) => ({ name: 'flo-gw', up, peers });
    expect(checkMesh(CLUSTER_UP, mesh([peer(60)]), NOW).status).toBe('ok');
    expect(checkMesh(CLUSTER_UP, mesh([peer(181)]), NOW)).toMatchObject({
      status: 'warn',
      detail: 'flo-gw up; no handshake for 3 min with 203.0.113.12:51820',
    });
    expect(checkMesh(CLUSTER_UP, mesh([peer(undefined)]), NOW).status).toBe('warn');
    expect(checkMesh(CLUSTER_UP, mesh([], false), NOW)).toMatchObject({
      status: 'fail',
      detail: 'the mesh interface flo-gw is not up',
    });
    expect(checkMesh({ running: true, cluster: false }, mesh([]), NOW).status).toBe('skip');
  });

  it('clock: ok within 2 s of the hub, warn beyond, fail beyond 30 s, skip with a reason', () => {
    const off = (ms: number) => checkClock({ date: new Date(NOW.getTime() - ms) }, NOW).status;
    expect([off(2_000), off(2_001), off(30_000), off(30_001)]).toEqual([
      'ok',
      'warn',
      'warn',
      'fail',
    ]);
    expect(checkClock({ skipped: 'this node runs the hub' }, NOW)).toMatchObject({
      status: 'skip',
      detail: 'this node runs the hub',
    });
  });

  it('disk: warn under 10 % free, fail under 2 %', () => {
    expect(checkDisk('/s', 10, 100).status).toBe('ok');
    expect(checkDisk('/s', 9, 100).status).toBe('warn');
    expect(checkDisk('/s', 2, 100).status).toBe('warn');
    expect(checkDisk('/s', 1, 100)).toMatchObject({ status: 'fail', detail: '1.0 % free on /s' });
  });
});

describe('node doctor on this machine', () => {
  it('checks a node with no stack running: every check has a line, the disk is read', async () => {
    const stateDir = await mkdtemp(path.join(tmpdir(), 'flotilla-doctor-'));
    try {
      const results = await doctorNode({ stateDir });
      expect(results.map((result) => result.check)).toEqual([
        'commands',
        'ports',
        'firewall',
        'mesh',
        'clock',
        'disk',
      ]);
      expect(results.find((result) => result.check === 'disk')!.detail).toContain(stateDir);
      expect(results.find((result) => result.check === 'clock')).toMatchObject({
        status: 'skip',
        detail: 'this node has not joined a hub (no membership here)',
      });
      expect(results.find((result) => result.check === 'mesh')!.status).toBe('skip');
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
