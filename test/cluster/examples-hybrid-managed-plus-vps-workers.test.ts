// examples/hybrid-managed-plus-vps-workers runs for real in the lab: one VPS with Redis,
// MinIO and four queue workers (no port), every image a container of the stand-in image
// (fixtures/example-lab.ts). Checks placement, the media route to MinIO's API, that the
// workers reach Redis and MinIO by name, and the firewall: the managed platform's address
// ranges may reach Redis and MinIO's API, the rest of the internet nothing but HTTPS.
// Needs root.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExampleLab, isRoot } from './fixtures/example-lab.ts';

/** An address in the platform's first published range (firewall.allow), on the internet. */
const PLATFORM = '198.51.100.50';
const WORKERS = ['gen-worker', 'outbox-relay', 'capture-worker', 'session-sweeper'];

describe.skipIf(!isRoot)(
  'examples/hybrid-managed-plus-vps-workers in the lab',
  { timeout: 60_000 },
  () => {
    const lab = new ExampleLab('examples/hybrid-managed-plus-vps-workers/flotilla.yml');

    beforeAll(async () => {
      await lab.start();
      // The platform's outbound address, on the lab's internet (which routes it back).
      const added = await lab.cluster.exec('internet', [
        'ip',
        'addr',
        'add',
        `${PLATFORM}/32`,
        'dev',
        'lo',
      ]);
      if (added.code !== 0) throw new Error(`ip addr add failed: ${added.stderr}`);
    }, 240_000);
    afterAll(() => lab.close(), 120_000);

    /** A TCP connect to the VPS's public address from `source` on the internet. */
    async function connectsFrom(source: string, port: number): Promise<boolean> {
      const result = await lab.cluster.exec('internet', [
        'curl',
        '-s',
        '-o',
        '/dev/null',
        '--connect-timeout',
        '1',
        '--interface',
        source,
        `http://${lab.cluster.labNode('vps').address}:${port}/`,
      ]);
      // 0: an HTTP answer; 52 (empty reply) and 56 also mean the port accepted it.
      return [0, 52, 56].includes(result.code);
    }

    it('runs Redis, MinIO and the four workers in containers on the VPS', async () => {
      await lab.expectPlacement();
      expect(lab.variant.containers.sort()).toEqual(['minio', 'redis', ...WORKERS].sort());
    });

    it('routes media.example.com to MinIO’s API port', async () => {
      expect(await lab.route('media.example.com')).toMatchObject({
        instance: 'minio-1',
        node: 'vps',
      });
      // The stand-in listens on both of MinIO's ports; the route names `api`.
      const minio = lab.plan.desired['vps']?.instances.find(
        (instance) => instance.service === 'minio',
      );
      expect(minio?.env['PORTS']).toBe('9000,9001');
    });

    it('lets every worker reach Redis, and the media workers MinIO, by service name', async () => {
      const upstreams = Object.fromEntries(
        lab.plan.desired['vps']!.instances.map((instance) => [
          instance.service,
          instance.env['UPSTREAM'],
        ]),
      );
      const checks = [
        ...WORKERS.map((worker) => [worker, upstreams[worker]!, 'redis-1'] as const),
        ['gen-worker', 'http://minio:9000/', 'minio-1'] as const,
        ['capture-worker', 'http://minio:9000/', 'minio-1'] as const,
      ];
      // Each stand-in calls the first service its env names: REDIS_URL's.
      for (const worker of WORKERS) expect(upstreams[worker], worker).toBe('http://redis:6379/');
      const answers = await Promise.all(
        checks.map(([worker, url]) => lab.fromContainer(worker, url)),
      );
      checks.forEach(([worker, url, instance], index) =>
        expect(JSON.parse(answers[index] ?? '{}'), `${worker} → ${url}`).toMatchObject({
          instance,
        }),
      );
    });

    it('opens HTTPS to the internet, and Redis, MinIO’s API and console to no other address', async () => {
      const { cluster } = lab;
      const vps = cluster.labNode('vps').address;
      expect(await cluster.connects('internet', vps, 443)).toBe(true);
      const internet = cluster.lab.internetAddress;
      const ports = [6379, 9000, 9001];
      const reached = await Promise.all(ports.map((port) => connectsFrom(internet, port)));
      expect(reached).toEqual([false, false, false]);
      // The console stays closed to the platform too (the example's choice).
      expect(await connectsFrom(PLATFORM, 9001)).toBe(false);
    });

    // Their clients connect to the VPS's public address: plan publishes these two ports on
    // 0.0.0.0 (public_ports), the firewall above still closes them to everyone else.
    it('lets the managed platform’s ranges reach Redis and MinIO’s API', async () => {
      expect(await connectsFrom(PLATFORM, 6379)).toBe(true);
      expect(await connectsFrom(PLATFORM, 9000)).toBe(true);
    });
  },
);
