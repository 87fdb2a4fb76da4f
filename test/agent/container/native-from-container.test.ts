// A container reaches a native service of its own node by the service's name, through its
// segment's gateway (an extra host) DNAT'd to the service's loopback port by the segment
// table, for the ports its grants name only, also behind the node's input firewall: real
// traffic in dockerd's network namespace.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ContainerSupervisor } from '../../../src/agent/runtime/container-supervisor.ts';
import { localSegmentsRuleset, segmentGateway } from '../../../src/plan/local-segments.ts';
import { firewallRuleset, type FirewallInput } from '../../../src/plan/firewall.ts';
import { allocateMeshAddresses } from '../../../src/plan/mesh-addresses.ts';
import { placeInstances } from '../../../src/plan/placement.ts';
import { computeReachability } from '../../../src/plan/reachability.ts';
import { stackSchema } from '../../../src/spec/schema.ts';
import { BUSYBOX } from '../../helpers/test-image.ts';
import { DEFAULT_SUBNET, imageInstance, NODE, useFixture } from './fixture.ts';

/** The node's input firewall for a stack of this native service and a container beside it. */
function firewallInput(name: string): FirewallInput {
  const stack = stackSchema.parse({
    name,
    nodes: { [NODE]: { address: '203.0.113.10' } },
    services: {
      native: { node: NODE, run: { command: ['serve'] }, ports: { main: GRANTED } },
      client: { node: NODE, image: 'client:1' },
    },
  });
  return {
    stack,
    node: NODE,
    instances: placeInstances(stack),
    meshAddresses: allocateMeshAddresses(stack),
    reachability: computeReachability(stack),
  };
}

const GRANTED = 17301;
const NOT_GRANTED = 17302;

describe.skipIf(process.getuid?.() !== 0)(
  'container → native service on its node (real dockerd, nftables)',
  { timeout: 90_000 },
  () => {
    const fixture = useFixture();
    const servers: ChildProcess[] = [];

    /** busybox httpd on 127.0.0.1:port of dockerd's namespace, answering `body`. */
    async function nativeServer(port: number, body: string): Promise<void> {
      const root = path.join(fixture().dir, `www-${port}`);
      await mkdir(root, { recursive: true });
      await writeFile(path.join(root, 'index.html'), body);
      const argv = [`--net=/run/netns/${fixture().dockerd.netns!}`, '--', BUSYBOX, 'httpd'];
      const child = spawn('nsenter', [...argv, '-f', '-p', `127.0.0.1:${port}`, '-h', root], {
        stdio: 'ignore',
      });
      servers.push(child);
      // Listening once the namespace's own loopback answers.
      for (;;) {
        const out = await fixture()
          .inNetns([BUSYBOX, 'wget', '-q', '-O', '-', `http://127.0.0.1:${port}/`])
          .catch(() => '');
        if (out === body) return;
        if (child.exitCode !== null) throw new Error(`httpd on ${port} exited`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    afterAll(async () => {
      for (const child of servers) {
        if (child.exitCode !== null || child.signalCode !== null) continue;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
    });

    it('answers a container by name on a granted port, and never on another loopback port', async () => {
      const { stack } = fixture();
      await nativeServer(GRANTED, 'native says hi\n');
      await nativeServer(NOT_GRANTED, 'not for containers\n');
      await fixture().loadNft(
        localSegmentsRuleset({
          stack,
          node: NODE,
          services: [],
          guarded: [],
          containers: [
            { segment: 'default', subnet: DEFAULT_SUBNET, egress: false, native: [GRANTED] },
          ],
        }),
      );
      const runtime = fixture().runtime();
      const supervisor = runtime
        .prepare(
          imageInstance('client-1', { runtime: { native_hosts: ['native'] } }),
          () => undefined,
        )
        .supervise() as ContainerSupervisor;
      await supervisor.start();
      const exec = (cmd: string[]) =>
        runtime.engine.exec.run(supervisor.status.container!.id, { cmd });
      // The name is an extra host at the gateway (the test image's static busybox cannot
      // resolve names itself, nor run wget: its HTTP client here is nc).
      const hosts = (await exec(['cat', '/etc/hosts'])).stdout;
      const address = /^(\S+)\s+native$/m.exec(hosts)?.[1];
      expect(address).toBe(segmentGateway(DEFAULT_SUBNET));
      const get = (port: number) =>
        exec(['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${address} ${port}`]);
      expect((await get(GRANTED)).stdout).toMatch(/native says hi\n$/);
      expect((await get(NOT_GRANTED)).stdout).toBe('');
      // With the node's input firewall (policy drop) loaded as well: still answered.
      await fixture().loadNft(firewallRuleset(firewallInput(stack)));
      expect((await get(GRANTED)).stdout).toMatch(/native says hi\n$/);
      expect((await get(NOT_GRANTED)).stdout).toBe('');
      await supervisor.stop();
    });
  },
);
