// Where a container's ports are published: loopback always, the node's mesh address only
// when another node reaches the service, never 0.0.0.0; and a container reaches a service of
// another node over the mesh. Real dockerd in its namespace, a second namespace standing for
// another node (a veth pair for the mesh), real requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerSupervisor } from '../../src/agent/runtime/container-supervisor.ts';
import { localSegmentsRuleset } from '../../src/plan/local-segments.ts';
import {
  addNeighbour,
  DEFAULT_SUBNET,
  firstAnswer,
  getFromNetns,
  imageInstance,
  NODE,
  useFixture,
  wgetArgs,
  type Neighbour,
} from '../agent/container/fixture.ts';

/** The node's mesh address and the other node's, on a veth pair between the namespaces. */
const MESH = '100.96.0.1';
const OTHER = '100.96.0.2';

describe.skipIf(process.getuid?.() !== 0)(
  'container ports on the mesh address (real dockerd, two namespaces)',
  { timeout: 90_000 },
  () => {
    const fixture = useFixture();
    /** The other node, with this node's mesh interface its end of the veth pair. */
    let other: Neighbour;
    let mesh = '';

    beforeAll(async () => {
      other = await addNeighbour(fixture(), 'flt-other', { near: MESH, far: OTHER });
      mesh = other.nearInterface;
    });
    afterAll(async () => {
      await other?.remove();
    });

    /** An HTTP request from the other node's namespace; '' when nothing answers. */
    const fromOtherNode = (port: number) => getFromNetns(other.netns, `http://${MESH}:${port}/`);

    const web = (id: string, port: number, publish?: string) =>
      imageInstance(id, {
        ports: { http: port },
        runtime: {
          command: ['httpd', '-f', '-p', '8080', '-h', '/var/www'],
          container_ports: { http: 8080 },
          ...(publish && { publish_address: publish }),
        },
      });

    it('publishes a port another node reaches on loopback and the mesh address only, and answers there', async () => {
      const runtime = fixture().runtime();
      const supervisor = runtime
        .prepare(web('reached-1', 18181, MESH), () => undefined)
        .supervise() as ContainerSupervisor;
      await supervisor.start();
      const info = await runtime.engine.containers.inspect(supervisor.status.container!.id);
      expect(info.ports.map((port) => port.hostIp).sort()).toEqual([MESH, '127.0.0.1'].sort());
      expect(info.ports.every((port) => port.hostPort === 18181)).toBe(true);
      expect(await firstAnswer(() => fromOtherNode(18181))).toBe('hello from flotilla-test\n');
      await supervisor.stop();
    });

    it('keeps a port only its own node reaches off the mesh address (and never on 0.0.0.0)', async () => {
      const runtime = fixture().runtime();
      const supervisor = runtime
        .prepare(web('local-1', 18182), () => undefined)
        .supervise() as ContainerSupervisor;
      await supervisor.start();
      const info = await runtime.engine.containers.inspect(supervisor.status.container!.id);
      expect(info.ports.map((port) => port.hostIp)).toEqual(['127.0.0.1']);
      // It answers on its node's loopback, and not from the other node.
      const onLoopback = () =>
        fixture()
          .inNetns(wgetArgs(18182))
          .catch(() => '');
      expect(await firstAnswer(onLoopback)).toBe('hello from flotilla-test\n');
      expect(await fromOtherNode(18182)).toBe('');
      await supervisor.stop();
    });

    it('lets a container reach a service of the other node over the mesh, as the mesh address, without egress', async () => {
      await other.serve('served by the other node\n');
      await fixture().loadNft(
        localSegmentsRuleset({
          stack: fixture().stack,
          node: NODE,
          services: [],
          guarded: [],
          mesh_interface: mesh,
          containers: [{ segment: 'default', subnet: DEFAULT_SUBNET, egress: false, native: [] }],
        }),
      );
      const runtime = fixture().runtime();
      const supervisor = runtime
        .prepare(imageInstance('client-1'), () => undefined)
        .supervise() as ContainerSupervisor;
      await supervisor.start();
      // The other node has no route to the container's subnet: an answer means masqueraded.
      const get = () =>
        runtime.engine.exec
          .run(supervisor.status.container!.id, {
            cmd: ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${OTHER} 80`],
          })
          .then((result) => /\r\n\r\n([^]*)$/.exec(result.stdout)?.[1] ?? '');
      expect(await firstAnswer(get)).toBe('served by the other node\n');
      await supervisor.stop();
    });
  },
);
