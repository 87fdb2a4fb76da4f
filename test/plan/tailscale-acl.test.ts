// The Tailscale policy rendered from reachability. No tailnet is reachable from tests, so
// these check the policy's shape and content only.
import { describe, expect, it } from 'vitest';
import { BUS_PORT } from '../../src/plan/firewall-access.ts';
import { placeInstances } from '../../src/plan/placement.ts';
import { computeReachability } from '../../src/plan/reachability.ts';
import { tailscaleAcl } from '../../src/plan/tailscale-acl.ts';
import { parseStackText } from '../../src/spec/load.ts';
import type { Stack } from '../../src/spec/schema.ts';

function stackFrom(text: string): Stack {
  const result = parseStackText(text, 'flotilla.yml');
  if (!result.ok)
    throw new Error(result.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`).join('\n'));
  return result.stack;
}

const policyOf = (stack: Stack) =>
  tailscaleAcl({
    stack,
    instances: placeInstances(stack),
    reachability: computeReachability(stack),
  });

const SEGMENTED = `
name: salem
mesh: { provider: tailscale }
nodes:
  edge: { address: 203.0.113.1, gateway: true }
  app: { address: 203.0.113.2 }
  data: { address: 203.0.113.3 }
  tools: { address: 203.0.113.4 }
networks: { backend: {}, ops: {} }
services:
  db: { node: data, networks: [backend], run: { command: [postgres] }, ports: { main: 5432 } }
  cache: { node: data, networks: [backend], run: { command: [redis] }, ports: { main: 6379 } }
  api:
    node: app
    replicas: 2
    networks: [backend]
    run: { command: [api] }
    ports: { http: 3000 }
    routes: [{ host: api.example.com }]
  metrics: { node: tools, networks: [ops], run: { command: [prom] }, ports: { http: 9090 } }
firewall:
  allow: [{ from: [198.51.100.0/24], to: cache }]
`;

describe('tailscaleAcl (no tailnet: policy shape only)', () => {
  it('is null unless the mesh is tailscale', () => {
    expect(
      policyOf(stackFrom(SEGMENTED.replace('provider: tailscale', 'provider: wireguard'))),
    ).toBeNull();
  });

  it('tags every node, owned by admins', () => {
    expect(policyOf(stackFrom(SEGMENTED))?.tagOwners).toEqual({
      'tag:flotilla-edge': ['autogroup:admin'],
      'tag:flotilla-app': ['autogroup:admin'],
      'tag:flotilla-data': ['autogroup:admin'],
      'tag:flotilla-tools': ['autogroup:admin'],
    });
  });

  it('accepts exactly the cross-node grants and the bus, one rule per set of destinations', () => {
    expect(policyOf(stackFrom(SEGMENTED))?.acls).toEqual([
      // The allowlisted CIDR reaches cache.
      { action: 'accept', src: ['198.51.100.0/24'], dst: ['tag:flotilla-data:6379'] },
      // api (backend) reaches db and cache on data, and the bus on the hub.
      {
        action: 'accept',
        src: ['tag:flotilla-app'],
        dst: [`tag:flotilla-edge:${BUS_PORT}`, 'tag:flotilla-data:5432', 'tag:flotilla-data:6379'],
      },
      // data's db and cache reach api (same segment): both replicas' ports.
      {
        action: 'accept',
        src: ['tag:flotilla-data'],
        dst: [`tag:flotilla-edge:${BUS_PORT}`, 'tag:flotilla-app:3000', 'tag:flotilla-app:3001'],
      },
      // The gateway reaches the routed api replicas.
      {
        action: 'accept',
        src: ['tag:flotilla-edge'],
        dst: ['tag:flotilla-app:3000', 'tag:flotilla-app:3001'],
      },
      // tools shares no segment: only the bus.
      { action: 'accept', src: ['tag:flotilla-tools'], dst: [`tag:flotilla-edge:${BUS_PORT}`] },
    ]);
  });

  it('merges sources that reach the same destinations', () => {
    const policy = policyOf(
      stackFrom(`
name: merge
mesh: { provider: tailscale }
nodes:
  hub: { address: 203.0.113.1, gateway: true }
  a: { address: 203.0.113.2 }
  b: { address: 203.0.113.3 }
services:
  db: { node: hub, run: { command: [postgres] }, ports: { main: 5432 } }
  worker-a: { node: a, run: { command: [w] } }
  worker-b: { node: b, run: { command: [w] } }
`),
    );
    expect(policy?.acls).toEqual([
      {
        action: 'accept',
        src: ['tag:flotilla-a', 'tag:flotilla-b'],
        dst: [`tag:flotilla-hub:${BUS_PORT}`, 'tag:flotilla-hub:5432'],
      },
    ]);
  });

  it('tests assert what each node may and may not reach, except ports open to a CIDR', () => {
    const tests = policyOf(stackFrom(SEGMENTED))?.tests;
    expect(tests?.find((test) => test.src === 'tag:flotilla-tools')).toEqual({
      src: 'tag:flotilla-tools',
      accept: [`tag:flotilla-edge:${BUS_PORT}`],
      // 6379 is open to 198.51.100.0/24, which could hold a node's address: no claim there.
      deny: ['tag:flotilla-app:3000', 'tag:flotilla-app:3001', 'tag:flotilla-data:5432'],
    });
    expect(tests?.find((test) => test.src === 'tag:flotilla-edge')).toEqual({
      src: 'tag:flotilla-edge',
      accept: ['tag:flotilla-app:3000', 'tag:flotilla-app:3001'],
      deny: ['tag:flotilla-data:5432', 'tag:flotilla-tools:9090'],
    });
  });

  it('a single node needs no rules', () => {
    const policy = policyOf(
      stackFrom(`
name: solo
mesh: { provider: tailscale }
nodes: { box: { address: 203.0.113.5, gateway: true } }
services:
  db: { run: { command: [postgres] }, ports: { main: 5432 } }
  api: { run: { command: [api] }, ports: { http: 3000 } }
`),
    );
    expect(policy).toEqual({
      tagOwners: { 'tag:flotilla-box': ['autogroup:admin'] },
      acls: [],
      tests: [],
    });
  });

  it('is deterministic', () => {
    expect(JSON.stringify(policyOf(stackFrom(SEGMENTED)))).toBe(
      JSON.stringify(policyOf(stackFrom(SEGMENTED))),
    );
  });
});
