import { describe, expect, it } from 'vitest';
import { desiredState } from '../../src/plan/desired.ts';
import { allocateMeshAddresses } from '../../src/plan/mesh-addresses.ts';
import { placeInstances } from '../../src/plan/placement.ts';
import { computeReachability } from '../../src/plan/reachability.ts';
import { stackSchema } from '../../src/spec/schema.ts';

const stack = stackSchema.parse({
  name: 'demo',
  nodes: {
    storage: { address: '203.0.113.10' },
    compute: { address: '203.0.113.11', gateway: true },
  },
  services: {
    db: {
      node: 'storage',
      run: { command: ['postgres', '-D', '${data}/pg', '-p', '${port}'], user: 'postgres' },
      ports: { main: 5432 },
      env: { POSTGRES_PASSWORD: '${secret:PG_PASSWORD}' },
    },
    cache: { node: 'compute', image: 'redis:7', ports: { main: 6379 }, volumes: ['cache:/data'] },
    api: {
      node: 'compute',
      replicas: 2,
      run: { command: ['node', 'server.js'], cwd: 'apps/api', env_files: ['.env'] },
      ports: { http: 3000 },
      env: {
        PORT: '${port}',
        DATABASE_URL: 'postgres://app:${secret:PG_PASSWORD}@${db.address}/app',
        CACHE: '${cache.host}:${cache.port}',
        LITERAL: 'price $${AMOUNT}',
        WORKERS: 4,
      },
    },
  },
});

const desired = desiredState(
  stack,
  placeInstances(stack),
  allocateMeshAddresses(stack),
  computeReachability(stack),
  {
    stackDir: '/srv/stack',
    stateDir: '/var/lib/flotilla',
  },
);

describe('desired state per node', () => {
  const api = desired.compute!.instances.filter((instance) => instance.service === 'api');

  it('resolves addresses: loopback when co-located, the mesh address across nodes', () => {
    expect(api[0]!.env.DATABASE_URL).toBe(
      'postgres://app:${secret:PG_PASSWORD}@100.96.0.1:5432/app',
    );
    expect(api[0]!.env.CACHE).toBe('127.0.0.1:6379');
    expect(desired.compute!.hosts).toEqual({
      db: '100.96.0.1',
      cache: '127.0.0.1',
      api: '127.0.0.1',
    });
    expect(desired.storage!.hosts.api).toBe('100.96.0.2');
  });

  it('gives each replica its own port and keeps literals escaped as templates', () => {
    expect(api.map((instance) => instance.env.PORT)).toEqual(['3000', '3001']);
    expect(api[0]!.env.LITERAL).toBe('price $${AMOUNT}');
    expect(api[0]!.env.WORKERS).toBe('4');
  });

  it('leaves secrets as placeholders and lists the names the node needs', () => {
    expect(api[0]!.secrets).toEqual(['PG_PASSWORD']);
    expect(
      desired.compute!.instances.find((instance) => instance.service === 'cache')!.secrets,
    ).toEqual([]);
  });

  it('resolves commands, working directories, env files and data paths', () => {
    expect(api[0]!.runtime).toEqual({
      kind: 'process',
      command: ['node', 'server.js'],
      cwd: '/srv/stack/apps/api',
      env_files: ['/srv/stack/apps/api/.env'],
      cgroup: 'flotilla/demo/compute/api',
    });
    expect(desired.storage!.instances[0]!.runtime).toEqual({
      kind: 'process',
      command: ['postgres', '-D', '/var/lib/flotilla/data/db/pg', '-p', '5432'],
      cwd: '/srv/stack',
      env_files: [],
      user: 'postgres',
      cgroup: 'flotilla/demo/storage/db',
    });
    expect(
      desired.compute!.instances.find((instance) => instance.service === 'cache')!.runtime,
    ).toEqual({
      kind: 'container',
      image: 'redis:7',
      env_files: [],
      mounts: [{ type: 'volume', source: 'cache', target: '/data', read_only: false }],
      read_only: false,
      cap_drop: [],
      container_ports: { main: 6379 },
      // Its node's default segment, the native api beside it by name, and its ports on the
      // mesh address too since services of other nodes reach it.
      networks: [
        {
          segment: 'default',
          subnet: expect.stringMatching(/^10\.213\.\d+\.0\/24$/),
          egress: true,
        },
      ],
      native_hosts: ['api'],
      // …and db of the other node by name, at that node's mesh address.
      remote_hosts: { db: expect.stringMatching(/^100\.96\.0\.\d+$/) },
      publish_address: expect.stringMatching(/^100\.96\.0\.\d+$/),
    });
  });

  it("never gives a service another service's variables", () => {
    const dbEnv = desired.storage!.instances[0]!.env;
    expect(Object.keys(dbEnv)).toEqual(['POSTGRES_PASSWORD']);
    expect(Object.keys(api[0]!.env).sort()).toEqual([
      'CACHE',
      'DATABASE_URL',
      'LITERAL',
      'PORT',
      'WORKERS',
    ]);
  });
});
