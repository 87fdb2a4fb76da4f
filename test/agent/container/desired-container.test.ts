// The container part of the desired state: what plan renders for an image service (binds
// against the stack dir, memory in bytes, ports inside the container, registry credentials
// as secret templates) and how containers find each other (by service name and container
// port on one node, by mesh address and published port across nodes, a native service of
// its node by name at its gateway), which segments it joins, and where its ports are published.
import { beforeAll, describe, expect, it } from 'vitest';
import { containerSpecFor } from '../../../src/agent/runtime/container/container-spec.ts';
import {
  desiredInstanceSchema,
  desiredState,
  type DesiredInstance,
  type DesiredNode,
} from '../../../src/plan/desired.ts';
import { loadExample } from '../../examples/load-example.ts';
import { imageInstance } from './fixture.ts';
import { allocateMeshAddresses } from '../../../src/plan/mesh-addresses.ts';
import { placeInstances } from '../../../src/plan/placement.ts';
import { computeReachability } from '../../../src/plan/reachability.ts';
import { stackSchema } from '../../../src/spec/schema.ts';

const stack = stackSchema.parse({
  name: 'demo',
  nodes: { one: { address: '203.0.113.10' }, two: { address: '203.0.113.11' } },
  registries: { 'registry.example:5000': { username: 'ci', password: '${secret:REG_PASS}' } },
  services: {
    web: {
      node: 'one',
      image: 'registry.example:5000/acme/web:1.2',
      command: ['serve', '--port', '${port}'],
      entrypoint: ['/bin/tini', '--'],
      user: '1000:1000',
      env_files: ['web.env'],
      volumes: ['./static:/srv/static:ro', 'webdata:/data'],
      memory: '512m',
      cpus: 0.5,
      read_only: true,
      cap_drop: ['ALL'],
      ports: { http: 8080 },
      container_ports: { http: 80 },
      env: {
        CACHE: '${cache.address}',
        DB: '${db.host}:${db.port}',
        NATIVE: '${native.address}',
      },
    },
    cache: {
      node: 'one',
      image: 'redis:7',
      ports: { main: 6380 },
      container_ports: { main: 6379 },
    },
    db: {
      node: 'two',
      image: 'postgres:16',
      ports: { main: 5433 },
      container_ports: { main: 5432 },
    },
    native: {
      node: 'one',
      run: { command: ['app'] },
      ports: { main: 3000 },
      env: { WEB: '${web.address}' },
    },
  },
});

/** Plan picks the default segment's /24 of CONTAINER_POOL on node one. */
const SUBNET = expect.stringMatching(/^10\.213\.\d+\.0\/24$/) as string;

const desired = desiredState(
  stack,
  placeInstances(stack),
  allocateMeshAddresses(stack),
  computeReachability(stack),
  { stackDir: '/srv/stack', stateDir: '/var/lib/flotilla' },
);
const instance = (node: string, service: string): DesiredInstance =>
  desired[node]!.instances.find((candidate) => candidate.service === service)!;

describe('desired state of an image service', () => {
  it('carries everything the container runtime needs, resolved at plan time', () => {
    const web = instance('one', 'web');
    expect(web.runtime).toEqual({
      kind: 'container',
      image: 'registry.example:5000/acme/web:1.2',
      command: ['serve', '--port', '80'],
      entrypoint: ['/bin/tini', '--'],
      user: '1000:1000',
      env_files: ['/srv/stack/web.env'],
      mounts: [
        { type: 'bind', source: '/srv/stack/static', target: '/srv/static', read_only: true },
        { type: 'volume', source: 'webdata', target: '/data', read_only: false },
      ],
      memory_bytes: 512 * 1024 * 1024,
      cpus: 0.5,
      read_only: true,
      cap_drop: ['ALL'],
      container_ports: { http: 80 },
      networks: [{ segment: 'default', subnet: SUBNET, egress: true }],
      native_hosts: ['native'],
      // db runs only on the other node: its name is an extra host at that node's mesh address.
      remote_hosts: { db: allocateMeshAddresses(stack).two },
      publish_address: allocateMeshAddresses(stack).one,
      registry_auth: {
        server: 'registry.example:5000',
        username: 'ci',
        password: '${secret:REG_PASS}',
      },
    });
    // The agent needs the password's secret delivered, and only the template is on the bus.
    expect(web.secrets).toContain('REG_PASS');
    expect(web.ports).toEqual({ http: 8080 });
  });

  it('has no credentials for an image from a registry the stack names none for', () => {
    const cache = instance('one', 'cache');
    expect(cache.runtime.kind === 'container' && cache.runtime.registry_auth).toBeFalsy();
  });

  it('finds a container on its node by service name and container port, one elsewhere by name and published port', () => {
    const env = instance('one', 'web').env;
    expect(env.CACHE).toBe('cache:6379');
    // db's name resolves to its node's mesh address (remote_hosts), where 5433 is published.
    expect(env.DB).toBe('db:5433');
    // A native service reaches a container through its loopback-published port.
    expect(instance('one', 'native').env.WEB).toBe('127.0.0.1:8080');
  });

  it('finds a native service of its node by name (an extra host at its gateway) and its loopback port', () => {
    expect(instance('one', 'web').env.NATIVE).toBe('native:3000');
    expect(desired.one!.segments!.containers).toEqual([
      { segment: 'default', subnet: SUBNET, egress: true, native: [3000] },
    ]);
  });

  it('publishes on the mesh address only what another node reaches, never on 0.0.0.0', () => {
    const runtimeOf = (node: string, service: string) => {
      const runtime = instance(node, service).runtime;
      if (runtime.kind !== 'container') throw new Error(`${service} is not an image service`);
      return runtime;
    };
    // One segment: db (node two) and web, cache (node one) reach each other across nodes.
    const mesh = allocateMeshAddresses(stack);
    expect(runtimeOf('two', 'db').publish_address).toBe(mesh.two);
    expect(runtimeOf('one', 'web').publish_address).toBe(mesh.one);
  });

  it('publishes a container only its own node reaches on loopback alone', () => {
    const alone = stackSchema.parse({
      name: 'alone',
      nodes: { one: { address: '203.0.113.10' }, two: { address: '203.0.113.11' } },
      networks: { local: {} },
      services: {
        web: { node: 'one', image: 'web:1', ports: { http: 8080 }, networks: ['local'] },
        peer: { node: 'one', image: 'peer:1', networks: ['local'] },
        far: { node: 'two', image: 'far:1' },
      },
    });
    const state = desiredState(
      alone,
      placeInstances(alone),
      allocateMeshAddresses(alone),
      computeReachability(alone),
      { stackDir: '/srv/stack', stateDir: '/var/lib/flotilla' },
    );
    const web = state.one!.instances.find((candidate) => candidate.service === 'web')!;
    expect(web.runtime.kind === 'container' && web.runtime.publish_address).toBeUndefined();
  });

  it('publishes on 0.0.0.0 only the ports a range beyond the mesh reaches, on the mesh address those a range inside it does', () => {
    const allowed = stackSchema.parse({
      name: 'allowed',
      nodes: { one: { address: '203.0.113.10' } },
      services: {
        store: { node: 'one', image: 'minio:1', ports: { api: 9000, console: 9001 } },
        queue: { node: 'one', image: 'redis:7', ports: { main: 6379 } },
      },
      firewall: {
        allow: [
          { from: ['198.51.100.0/24'], to: 'store.api' },
          // Inside mesh.cidr (100.96.0.0/16): such clients come over the mesh.
          { from: ['100.96.9.0/24'], to: 'queue' },
        ],
      },
    });
    const state = desiredState(
      allowed,
      placeInstances(allowed),
      allocateMeshAddresses(allowed),
      computeReachability(allowed),
      { stackDir: '/srv/stack', stateDir: '/var/lib/flotilla' },
    );
    const of = (service: string) =>
      state.one!.instances.find((candidate) => candidate.service === service)!;
    const store = of('store');
    const queue = of('queue');
    expect(store.runtime).toMatchObject({ public_ports: ['api'] });
    expect(store.runtime).not.toHaveProperty('publish_address');
    expect(queue.runtime).toMatchObject({ publish_address: allocateMeshAddresses(allowed).one });
    expect(queue.runtime).not.toHaveProperty('public_ports');
    // What the agent creates: the granted port on every address, the console on loopback.
    const paths = { instances: '/nonexistent', logs: '/nonexistent', secretFiles: '/nonexistent' };
    const published = containerSpecFor(store, 'allowed', paths, () => undefined).create.ports;
    expect(published?.map(({ hostIp, hostPort }) => [hostPort, hostIp])).toEqual([
      [9000, '0.0.0.0'],
      [9001, '127.0.0.1'],
    ]);
    // An older hub's state has no public_ports: it still parses, with nothing public.
    const older: Record<string, unknown> = { ...store.runtime };
    delete older.public_ports;
    expect(desiredInstanceSchema.parse({ ...store, runtime: older }).runtime).not.toHaveProperty(
      'public_ports',
    );
  });
});

describe('container segments of the segmented example (four on one VPS)', () => {
  let state: Record<string, DesiredNode>;
  beforeAll(async () => {
    const example = await loadExample('segmented-ai-stack');
    state = example.plan.desired;
  });
  const bridges = () => state.prod!.segments!.containers!;

  it('gives each segment used on the node a bridge with its own /24 from the pool, egress as declared', () => {
    expect(bridges().map(({ segment, egress }) => [segment, egress])).toEqual([
      ['backend', false],
      ['default', true],
      ['egress', true],
      ['frontend', false],
      ['monitoring', false],
    ]);
    const subnets = bridges().map((bridge) => bridge.subnet);
    expect(new Set(subnets).size).toBe(subnets.length);
    for (const subnet of subnets) expect(subnet).toMatch(/^10\.213\.\d+\.0\/24$/);
  });

  it('joins a container to each of its service networks, first one first', () => {
    const n8n = state.prod!.instances.find((candidate) => candidate.service === 'n8n')!;
    expect(n8n.runtime.kind === 'container' && n8n.runtime.networks.map((n) => n.segment)).toEqual([
      'backend',
      'egress',
    ]);
  });

  it('gives a container a new spec hash when it joins or leaves a segment beyond its first', () => {
    const paths = { instances: '/nonexistent', logs: '/nonexistent', secretFiles: '/nonexistent' };
    const hashOf = (networks: { segment: string; subnet: string; egress: boolean }[]) =>
      containerSpecFor(
        imageInstance('web-1', { runtime: { networks } }),
        'shop',
        paths,
        () => undefined,
      ).specHash;
    const front = { segment: 'front', subnet: '10.213.1.0/24', egress: false };
    const back = { segment: 'back', subnet: '10.213.2.0/24', egress: false };
    const data = { segment: 'data', subnet: '10.213.3.0/24', egress: false };
    const alone = hashOf([front]);
    expect(hashOf([front, back])).not.toBe(alone);
    expect(hashOf([front, back, data])).not.toBe(hashOf([front, back]));
    expect(hashOf([front])).toBe(alone);
  });
});
