// The mesh pinger with the real ping binary: loopback answers, an address nobody holds in
// TEST-NET-1 does not (bounded by the timeout), and ping's own failures read as errors.
import { describe, expect, it } from 'vitest';
import { meshPeers, parsePingTime, pingPeers } from '../../src/agent/mesh-pinger.ts';
import type { NodeNetwork } from '../../src/protocol/node-network.ts';

describe('mesh peers', () => {
  it('are the WireGuard peers at their /32, and none on a tailnet or a single node', () => {
    const network: NodeNetwork = {
      firewall: '',
      mesh: {
        interface: 'fl-demo',
        address: '100.96.0.1/16',
        listen_port: 51820,
        peers: [
          {
            node: 'b',
            public_key: 'k',
            endpoint: '203.0.113.2:51820',
            allowed_ips: ['100.96.0.2/32'],
          },
          {
            node: 'c',
            public_key: 'k',
            endpoint: '203.0.113.3:51820',
            allowed_ips: ['100.96.0.3/32'],
          },
        ],
      },
    };
    expect(meshPeers(network)).toEqual([
      { node: 'b', address: '100.96.0.2' },
      { node: 'c', address: '100.96.0.3' },
    ]);
    expect(meshPeers({ firewall: '' })).toEqual([]);
    expect(meshPeers(undefined)).toEqual([]);
  });
});

describe('pingPeers', () => {
  it('reads the round trip out of a reply line', () => {
    expect(parsePingTime('64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=0.032 ms')).toBe(0.032);
    expect(parsePingTime('64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=12 ms')).toBe(12);
    expect(parsePingTime('1 packets transmitted, 0 received')).toBeUndefined();
  });

  it('has a round trip for a peer that answers and an error for one that cannot, in order', async () => {
    const results = await pingPeers(
      [
        { node: 'silent', address: '192.0.2.123' },
        { node: 'loopback', address: '127.0.0.1' },
        { node: 'nonsense', address: 'not-an-address.invalid' },
      ],
      { timeoutMs: 1_000, concurrency: 2 },
    );
    expect(results.map((result) => result.peer)).toEqual(['silent', 'loopback', 'nonsense']);
    const [silent, loopback, nonsense] = results;
    expect(loopback!.error).toBeUndefined();
    expect(loopback!.rttMs).toBeGreaterThanOrEqual(0);
    expect(silent!.rttMs).toBeUndefined();
    expect(silent!.error).toMatch(/no reply within 1s|unreachable/i);
    expect(nonsense!.rttMs).toBeUndefined();
    expect(nonsense!.error).toMatch(/not-an-address\.invalid/);
  });

  it('pings nobody when there are no peers', async () => {
    expect(await pingPeers([], { timeoutMs: 1_000 })).toEqual([]);
  });
});
