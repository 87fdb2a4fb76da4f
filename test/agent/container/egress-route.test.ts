// A container in a segment without egress and in one with it goes out of the node through
// the egress one, though dockerd routes it through the network whose name sorts first
// (default-route.ts): after every start, restart and adoption, the mesh still in reach.
// Real dockerd in its namespace with the segment table loaded, two more namespaces for the
// internet and another node over the mesh, real connections from inside the containers.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerRuntime } from '../../../src/agent/runtime/container-runtime.ts';
import type { ContainerSupervisor } from '../../../src/agent/runtime/container-supervisor.ts';
import type { DesiredInstance } from '../../../src/plan/desired.ts';
import { localSegmentsRuleset } from '../../../src/plan/local-segments.ts';
import { addNeighbour, imageInstance, next, NODE, useFixture, type Neighbour } from './fixture.ts';

const run = promisify(execFile);

// `inner` sorts before `out`: dockerd's own choice for a container in both is inner.
const SEGMENTS = {
  inner: { subnet: '10.213.1.0/24', egress: false, gateway: '10.213.1.1' },
  other: { subnet: '10.213.2.0/24', egress: false, gateway: '10.213.2.1' },
  out: { subnet: '10.213.3.0/24', egress: true, gateway: '10.213.3.1' },
} as const;
type Segment = keyof typeof SEGMENTS;
const NODE_SIDE = '10.216.0.1';
const INTERNET = '10.216.0.2';
/** Another node, over the mesh interface (no route back to a container subnet either). */
const MESH_SIDE = '10.217.0.1';
const OTHER_NODE = '10.217.0.2';
const FAST = { initialDelayMs: 10, maxDelayMs: 50, minUptimeMs: 500, maxUnstableStarts: 3 };

describe.skipIf(process.getuid?.() !== 0)(
  'default route of a container in an egress segment and another (real dockerd, nftables)',
  { timeout: 120_000 },
  () => {
    const fixture = useFixture();
    let internet: Neighbour;
    let mesh: Neighbour;
    let runtime: ContainerRuntime;
    const supervisors = new Map<string, ContainerSupervisor>();

    const instance = (id: string, segments: Segment[], command = ['sleep', '3600']) =>
      imageInstance(id, {
        runtime: {
          command,
          networks: segments.map((segment) => ({
            segment,
            subnet: SEGMENTS[segment].subnet,
            egress: SEGMENTS[segment].egress,
          })),
        },
      });

    const start = async (desired: DesiredInstance, on = runtime) => {
      const supervisor = on.prepare(desired, () => undefined).supervise() as ContainerSupervisor;
      await supervisor.start();
      supervisors.set(desired.id, supervisor);
      return supervisor;
    };

    /** What an HTTP GET from inside container `id` reads ('' when refused). */
    const get = async (id: string, address: string, port: number) => {
      const result = await runtime.engine.exec.run(supervisors.get(id)!.status.container!.id, {
        cmd: ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${address} ${port}`],
      });
      return /\r\n\r\n([^]*)$/.exec(result.stdout)?.[1] ?? '';
    };

    /** `ip route` inside container `id`'s network namespace. */
    const routes = async (id: string, ...args: string[]) => {
      const pid = supervisors.get(id)!.status.pid!;
      const argv = [`--target=${pid}`, '--net', '--', 'ip', 'route', ...args];
      return (await run('nsenter', argv)).stdout;
    };
    const defaultVia = async (id: string) =>
      /^default via (\S+)/m.exec(await routes(id, 'show', 'default'))?.[1];

    beforeAll(async () => {
      runtime = fixture().runtime(FAST);
      internet = await addNeighbour(fixture(), 'flt-route', { near: NODE_SIDE, far: INTERNET });
      await internet.serve('the internet\n');
      mesh = await addNeighbour(fixture(), 'flt-mesh', { near: MESH_SIDE, far: OTHER_NODE });
      await mesh.serve('another node\n');
      await start(instance('server-1', ['inner'], ['httpd', '-f', '-p', '8080', '-h', '/var/www']));
      await start(instance('mixed-1', ['inner', 'out']));
      await start(instance('closed-1', ['inner', 'other']));
      await start(instance('open-1', ['out']));
      await fixture().loadNft(
        localSegmentsRuleset({
          stack: fixture().stack,
          node: NODE,
          services: [],
          guarded: [],
          containers: Object.entries(SEGMENTS).map(([segment, { subnet, egress }]) => ({
            segment,
            subnet,
            egress,
            native: [],
          })),
          mesh_interface: mesh.nearInterface,
        }),
      );
    });

    afterAll(async () => {
      for (const supervisor of supervisors.values()) await supervisor.stop();
      await internet?.remove();
      await mesh?.remove();
    });

    it('routes it out through its egress segment, and still reaches its other segment', async () => {
      expect(await defaultVia('mixed-1')).toBe(SEGMENTS.out.gateway);
      expect(await get('mixed-1', INTERNET, 80)).toBe('the internet\n');
      const info = await runtime.engine.containers.inspect(
        supervisors.get('server-1')!.status.container!.id,
      );
      const server = info.networks[`flotilla-${fixture().stack}-inner`]!.ipAddress;
      expect(await get('mixed-1', server, 8080)).toBe('hello from flotilla-test\n');
    });

    it('keeps the mesh within reach, through whichever gateway it routes', async () => {
      for (const id of ['mixed-1', 'closed-1'])
        expect(await get(id, OTHER_NODE, 80), id).toBe('another node\n');
    });

    it('leaves the route of a container without egress, or in egress segments only, to dockerd', async () => {
      expect(await defaultVia('closed-1')).toBe(SEGMENTS.inner.gateway);
      expect(await get('closed-1', INTERNET, 80)).toBe('');
      expect(await defaultVia('open-1')).toBe(SEGMENTS.out.gateway);
    });

    it('routes it out again after a restart, and when a new agent adopts it', async () => {
      const mixed = supervisors.get('mixed-1')!;
      const started = next(mixed, 'started');
      await runtime.engine.containers.kill(mixed.status.container!.id);
      await started;
      expect(await defaultVia('mixed-1')).toBe(SEGMENTS.out.gateway);
      expect(await get('mixed-1', INTERNET, 80)).toBe('the internet\n');

      // Back to dockerd's choice (as after dockerd reconnected it), then a new agent adopts it.
      await routes('mixed-1', 'replace', 'default', 'via', SEGMENTS.inner.gateway);
      expect(await get('mixed-1', INTERNET, 80)).toBe('');
      mixed.detach();
      const adopter = fixture()
        .runtime(FAST)
        .prepare(instance('mixed-1', ['inner', 'out']), () => undefined)
        .supervise() as ContainerSupervisor;
      const adopted = next(adopter, 'started');
      await adopter.start();
      expect((await adopted).adopted).toBe(true);
      supervisors.set('mixed-1', adopter);
      expect(await defaultVia('mixed-1')).toBe(SEGMENTS.out.gateway);
      expect(await get('mixed-1', INTERNET, 80)).toBe('the internet\n');
    });
  },
);
