// The Tailscale mesh provider against recorded `tailscale status --json` output (fixtures in
// test/mesh/fixtures): no tailnet, no tailscale binary; readTailscaleStatus() is not called.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parseTailscaleStatus,
  tailscaleMeshAddresses,
  TailscaleStatusError,
  type TailscaleDevice,
} from '../../src/mesh/tailscale.ts';

const recorded = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

const running = recorded('tailscale-status.json');
const loggedOut = recorded('tailscale-status-logged-out.json');

describe('tailscale provider (recorded status --json, no tailnet)', () => {
  describe('parseTailscaleStatus', () => {
    it('lists Self first, then every peer, with IPv4, tags and online state', () => {
      const devices = parseTailscaleStatus(running);
      expect(devices).toHaveLength(5);
      expect(devices[0]).toEqual({
        hostName: 'salem-storage',
        dnsName: 'salem-storage.tail4c2a1.ts.net',
        ipv4: '100.101.12.7',
        online: true,
        tags: ['tag:flotilla-storage'],
        self: true,
      });
      expect(devices.find((d) => d.hostName === 'compute')).toEqual({
        hostName: 'compute',
        dnsName: 'compute.tail4c2a1.ts.net',
        ipv4: '100.88.41.3',
        online: true,
        tags: [],
        self: false,
      });
      const backup = devices.find((d) => d.tags.includes('tag:flotilla-backup'));
      expect(backup).toMatchObject({ online: false, ipv4: '100.115.3.92' });
      expect(devices.filter((d) => d.self)).toHaveLength(1);
    });

    it('takes only the IPv4 (never the fd7a: IPv6) address', () => {
      for (const device of parseTailscaleStatus(running))
        expect(device.ipv4).toMatch(/^100\.\d+\.\d+\.\d+$/);
    });

    it('tolerates fields it does not know and null Peer', () => {
      const status = structuredClone(running) as Record<string, unknown>;
      status.SomeFutureField = { nested: true };
      status.Peer = null;
      expect(parseTailscaleStatus(status)).toHaveLength(1);
    });

    it('rejects a logged-out daemon, saying to run tailscale up', () => {
      expect(() => parseTailscaleStatus(loggedOut)).toThrow(TailscaleStatusError);
      expect(() => parseTailscaleStatus(loggedOut)).toThrow(
        /tailscale is not logged in: run `tailscale up`.*NeedsLogin/,
      );
      const stopped = { ...(running as object), BackendState: 'Stopped' };
      expect(() => parseTailscaleStatus(stopped)).toThrow(/not logged in.*Stopped/);
    });

    it('rejects garbage with a clear message', () => {
      for (const garbage of ['not json', null, 42, [], {}])
        expect(() => parseTailscaleStatus(garbage)).toThrow(
          /unexpected `tailscale status --json` output/,
        );
      const badPeer = structuredClone(running) as { Peer: Record<string, { HostName: unknown }> };
      Object.values(badPeer.Peer)[0]!.HostName = 7;
      expect(() => parseTailscaleStatus(badPeer)).toThrow(
        /output at Peer\.nodekey:[0-9a-f]+\.HostName/,
      );
      expect(() => parseTailscaleStatus({ BackendState: 'Running' })).toThrow(/no Self entry/);
    });
  });

  describe('tailscaleMeshAddresses', () => {
    const devices = parseTailscaleStatus(running);
    const nodes = {
      storage: { address: '203.0.113.21' },
      compute: { address: '198.51.100.44' },
      edge: { address: 'salem-edge' },
      backup: { address: '198.51.100.90' },
    };

    it('matches by node name, tag:flotilla-<node> and HostName = address', () => {
      const result = tailscaleMeshAddresses(nodes, devices);
      expect(result.addresses).toEqual({
        storage: '100.101.12.7',
        compute: '100.88.41.3',
        edge: '100.70.200.18',
        backup: '100.115.3.92',
      });
      expect(result.matchedBy).toEqual({
        storage: 'tag',
        compute: 'name',
        edge: 'hostname',
        backup: 'tag',
      });
      expect(result.missing).toEqual([]);
      expect(result.hints).toEqual({});
    });

    it('still maps an offline device but flags it', () => {
      const result = tailscaleMeshAddresses(nodes, devices);
      expect(result.addresses.backup).toBe('100.115.3.92');
      expect(result.offline).toEqual(['backup']);
    });

    it('accepts the MagicDNS name as the node address', () => {
      const result = tailscaleMeshAddresses(
        { web: { address: 'salem-edge.tail4c2a1.ts.net' } },
        devices,
      );
      expect(result.addresses).toEqual({ web: '100.70.200.18' });
      expect(result.matchedBy).toEqual({ web: 'hostname' });
    });

    it('uses hostnameOf to derive the expected tailscale hostname', () => {
      const result = tailscaleMeshAddresses(
        { storage: { address: '203.0.113.21' }, edge: { address: '192.0.2.80' } },
        devices,
        { hostnameOf: (node) => `salem-${node}` },
      );
      expect(result.addresses).toEqual({ storage: '100.101.12.7', edge: '100.70.200.18' });
      expect(result.matchedBy).toEqual({ storage: 'name', edge: 'name' });
    });

    it('reports a node with no device, with a hint', () => {
      const result = tailscaleMeshAddresses({ ...nodes, db: { address: '192.0.2.99' } }, devices);
      expect(result.missing).toEqual(['db']);
      expect(result.addresses.db).toBeUndefined();
      expect(result.hints.db).toBe(
        'no tailnet device for node db: run `tailscale up --hostname db` on it, or tag it tag:flotilla-db',
      );
    });

    it('does not match unrelated devices (a phone, an untagged server)', () => {
      const result = tailscaleMeshAddresses({ pixel: { address: '192.0.2.1' } }, devices);
      expect(result.missing).toEqual(['pixel']);
    });

    it('prefers the online device when two share a name, and reports a true tie', () => {
      const twin = (ipv4: string, online: boolean): TailscaleDevice => ({
        hostName: 'compute',
        dnsName: `compute-${ipv4.split('.')[3]}.tail4c2a1.ts.net`,
        ipv4,
        online,
        tags: [],
        self: false,
      });
      const stale = [twin('100.88.0.1', false), twin('100.88.0.2', true)];
      expect(tailscaleMeshAddresses({ compute: { address: 'x' } }, stale).addresses).toEqual({
        compute: '100.88.0.2',
      });
      const tie = [twin('100.88.0.1', true), twin('100.88.0.2', true)];
      const result = tailscaleMeshAddresses({ compute: { address: 'x' } }, tie);
      expect(result.missing).toEqual(['compute']);
      expect(result.hints.compute).toMatch(/several tailnet devices match node compute by name/);
    });

    it('reports a matched device without IPv4 as missing, saying why', () => {
      const v6only: TailscaleDevice = {
        hostName: 'compute',
        dnsName: 'compute.tail4c2a1.ts.net',
        ipv4: undefined,
        online: true,
        tags: [],
        self: false,
      };
      const result = tailscaleMeshAddresses({ compute: { address: 'x' } }, [v6only]);
      expect(result.missing).toEqual(['compute']);
      expect(result.hints.compute).toMatch(/no IPv4 address/);
    });
  });
});
