// What the hub tells each node about its network: WireGuard peers from the members that
// joined (never itself, never a node the stack dropped), or, on a tailnet, only the firewall.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Member } from '../../src/hub/members.ts';
import { nodeNetwork } from '../../src/hub/node-network.ts';
import { planStack } from '../../src/plan/plan.ts';
import { parseStackText } from '../../src/spec/load.ts';

function stackOf(provider: 'wireguard' | 'tailscale') {
  const loaded = parseStackText(
    [
      'name: net',
      `mesh: { provider: ${provider}, cidr: 100.96.0.0/16 }`,
      'nodes:',
      '  gw: { address: 203.0.113.11, gateway: true }',
      '  app: { address: 203.0.113.12 }',
      'services:',
      '  web: { node: app, run: { command: [sleep, infinity] }, ports: { http: 8080 }, routes: [{ host: web.test }] }',
    ].join('\n'),
    'net.yml',
  );
  if (!loaded.ok) throw new Error('fixture stack is invalid');
  return loaded.stack;
}

const member = (key: string, endpoint: string): Member => ({
  wireguard_key: key,
  endpoint,
  recipient: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq',
  joined_at: '2026-11-23T00:00:00.000Z',
});
const KEY_GW = 'a'.repeat(43) + '=';
const KEY_APP = 'b'.repeat(43) + '=';
const KEY_GONE = 'c'.repeat(43) + '=';

describe('nodeNetwork', () => {
  it('lists every other member as a WireGuard peer, at its endpoint, for its /32', () => {
    const stack = stackOf('wireguard');
    const plan = planStack(stack, {
      stackDir: path.resolve('.'),
      stateDir: '/var/lib/flotilla/net',
    });
    const members: [string, Member][] = [
      ['app', member(KEY_APP, '203.0.113.12')],
      ['gone', member(KEY_GONE, '203.0.113.99')],
      ['gw', member(KEY_GW, '198.51.100.7')],
    ];
    const network = nodeNetwork(stack, plan, members, 'app');
    expect(network.mesh).toEqual({
      interface: 'flo-app',
      address: '100.96.0.2/16',
      listen_port: 51820,
      peers: [
        {
          node: 'gw',
          public_key: KEY_GW,
          endpoint: '198.51.100.7:51820',
          allowed_ips: ['100.96.0.1/32'],
        },
      ],
    });
    expect(network.firewall).toContain('table inet flotilla');
  });

  it('leaves the mesh to Tailscale on a tailnet: only the firewall, on tailscale0', () => {
    const stack = stackOf('tailscale');
    const plan = planStack(stack, {
      stackDir: path.resolve('.'),
      stateDir: '/var/lib/flotilla/net',
    });
    const network = nodeNetwork(stack, plan, [['gw', member(KEY_GW, '203.0.113.11')]], 'app');
    expect(network.mesh).toBeUndefined();
    expect(network.firewall).toContain(
      'iifname "tailscale0" ip saddr 100.96.0.1 tcp dport 8080 accept',
    );
  });
});
