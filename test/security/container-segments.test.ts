// Segments between the containers of one node: each segment its own bridge, the segment
// table (local-segments.ts) keeps them apart although the node forwards (egress needs it),
// and lets out only a segment with egress, masqueraded. Real dockerd in its namespace, a
// second namespace standing for the internet, real connections from inside containers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerRuntime } from '../../src/agent/runtime/container-runtime.ts';
import type { ContainerSupervisor } from '../../src/agent/runtime/container-supervisor.ts';
import { localSegmentsRuleset } from '../../src/plan/local-segments.ts';
import {
  addNeighbour,
  imageInstance,
  NODE,
  useFixture,
  type Neighbour,
} from '../agent/container/fixture.ts';

const SEGMENTS = {
  a: { subnet: '10.213.1.0/24', egress: false },
  b: { subnet: '10.213.2.0/24', egress: false },
  out: { subnet: '10.213.3.0/24', egress: true },
} as const;
type Segment = keyof typeof SEGMENTS;
/** The internet, as far as these containers know: a namespace behind a veth pair. */
const NODE_SIDE = '10.215.0.1';
const INTERNET = '10.215.0.2';

describe.skipIf(process.getuid?.() !== 0)(
  'container segments on one node (real dockerd, nftables)',
  { timeout: 120_000 },
  () => {
    const fixture = useFixture();
    let internet: Neighbour;
    let runtime: ContainerRuntime;
    const supervisors = new Map<string, ContainerSupervisor>();

    const start = async (id: string, segments: Segment[], command: string[]) => {
      const supervisor = runtime
        .prepare(
          imageInstance(id, {
            runtime: {
              command,
              networks: segments.map((segment) => ({ segment, ...SEGMENTS[segment] })),
            },
          }),
          () => undefined,
        )
        .supervise() as ContainerSupervisor;
      await supervisor.start();
      supervisors.set(id, supervisor);
    };

    /** What an HTTP GET from inside container `id` reads ('' when refused). */
    const get = async (id: string, address: string, port: number) => {
      const result = await runtime.engine.exec.run(supervisors.get(id)!.status.container!.id, {
        cmd: ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${address} ${port}`],
      });
      return /\r\n\r\n([^]*)$/.exec(result.stdout)?.[1] ?? '';
    };

    /** The address of container `id` on one of its segments. */
    const addressOf = async (id: string, segment: Segment) => {
      const info = await runtime.engine.containers.inspect(
        supervisors.get(id)!.status.container!.id,
      );
      return info.networks[`flotilla-${fixture().stack}-${segment}`]!.ipAddress;
    };

    beforeAll(async () => {
      runtime = fixture().runtime();
      internet = await addNeighbour(fixture(), 'flt-inet', { near: NODE_SIDE, far: INTERNET });
      await internet.serve('the internet\n');
      const httpd = ['httpd', '-f', '-p', '8080', '-h', '/var/www'];
      await start('server-1', ['a'], httpd);
      await start('peer-1', ['a'], ['sleep', '3600']);
      await start('other-1', ['b'], ['sleep', '3600']);
      await start('egress-1', ['out'], ['sleep', '3600']);
    });

    afterAll(async () => {
      for (const supervisor of supervisors.values()) await supervisor.stop();
      await internet?.remove();
    });

    it('keeps segment b away from a container in segment a, which its own segment reaches', async () => {
      const server = await addressOf('server-1', 'a');
      // The node forwards (an egress segment needs it): without the table, b reaches a.
      expect(await fixture().inNetns(['cat', '/proc/sys/net/ipv4/ip_forward'])).toBe('1\n');
      expect(await get('other-1', server, 8080)).toBe('hello from flotilla-test\n');
      await fixture().loadNft(
        localSegmentsRuleset({
          stack: fixture().stack,
          node: NODE,
          services: [],
          guarded: [],
          containers: Object.entries(SEGMENTS).map(([segment, settings]) => ({
            segment,
            ...settings,
            native: [],
          })),
        }),
      );
      expect(await get('peer-1', server, 8080)).toBe('hello from flotilla-test\n');
      expect(await get('other-1', server, 8080)).toBe('');
    });

    // After the test above loaded the table. The internet namespace has no route back to a
    // container subnet: an answer there means the request left masqueraded.
    it('lets only a segment with egress out of the node, masqueraded', async () => {
      expect(await get('egress-1', INTERNET, 80)).toBe('the internet\n');
      expect(await get('peer-1', INTERNET, 80)).toBe('');
      expect(await get('other-1', INTERNET, 80)).toBe('');
    });
  },
);
