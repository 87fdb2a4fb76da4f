import { describe, expect, it } from 'vitest';
import { allocateMeshAddresses } from '../../src/plan/mesh-addresses.ts';
import { findCycle, startupWaves } from '../../src/plan/order.ts';
import { placeInstances } from '../../src/plan/placement.ts';
import { stackSchema } from '../../src/spec/schema.ts';

const stack = stackSchema.parse({
  name: 'demo',
  mesh: { cidr: '100.96.0.0/24' },
  nodes: {
    a: { address: '203.0.113.1', labels: ['compute'] },
    b: { address: '203.0.113.2', labels: ['compute'], mesh_address: '100.96.0.1' },
    c: { address: '203.0.113.3', labels: ['storage'], gateway: true },
  },
  services: {
    db: { node: 'c', run: { command: ['postgres'] }, ports: { main: 5432 } },
    api: {
      labels: ['compute'],
      replicas: 3,
      run: { command: ['api'] },
      ports: { http: 3000, metrics: 9100 },
    },
  },
});

describe('placement', () => {
  it('spreads replicas round-robin over eligible nodes, offsetting ports of co-located replicas', () => {
    expect(placeInstances(stack)).toEqual([
      { id: 'db-1', service: 'db', index: 1, node: 'c', ports: { main: 5432 } },
      { id: 'api-1', service: 'api', index: 1, node: 'a', ports: { http: 3000, metrics: 9100 } },
      { id: 'api-2', service: 'api', index: 2, node: 'b', ports: { http: 3000, metrics: 9100 } },
      { id: 'api-3', service: 'api', index: 3, node: 'a', ports: { http: 3001, metrics: 9101 } },
    ]);
  });
});

describe('mesh addresses', () => {
  it('keeps pinned addresses and fills the others in declaration order', () => {
    expect(allocateMeshAddresses(stack)).toEqual({
      a: '100.96.0.2',
      b: '100.96.0.1',
      c: '100.96.0.3',
    });
  });
});

describe('startup order', () => {
  it('groups services into waves after their dependencies', () => {
    expect(
      startupWaves({ web: ['api'], api: ['db', 'cache'], db: [], cache: [], worker: ['db'] }),
    ).toEqual([['cache', 'db'], ['api', 'worker'], ['web']]);
  });

  it('finds a cycle as a closed path', () => {
    expect(findCycle({ a: ['b'], b: ['c'], c: ['b'] })).toEqual(['b', 'c', 'b']);
    expect(findCycle({ a: ['b'], b: [] })).toBeUndefined();
  });
});
