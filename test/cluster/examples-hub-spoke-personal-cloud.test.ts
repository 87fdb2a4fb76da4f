// examples/hub-spoke-personal-cloud runs for real in the lab: a gateway hub running no
// services, a spoke of containers (the stand-in image, its own dockerd) and a spoke with a
// native service (fixtures/example-lab.ts). Checks placement, the routes through the hub
// (path prefixes stripped), that the services' connections stay on their spoke, and the
// firewall. Needs root.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExampleLab, isRoot } from './fixtures/example-lab.ts';

describe.skipIf(!isRoot)(
  'examples/hub-spoke-personal-cloud in the lab',
  { timeout: 60_000 },
  () => {
    const lab = new ExampleLab('examples/hub-spoke-personal-cloud/flotilla.yml');

    beforeAll(() => lab.start(), 240_000);
    afterAll(() => lab.close(), 120_000);

    it('runs every instance, healthy, on its spoke; the hub runs none', async () => {
      expect(lab.variant.nodes[0]).toBe('hub');
      await lab.expectPlacement();
      expect(lab.ready.instances.filter((instance) => instance.node === 'hub')).toEqual([]);
      expect(Object.keys(lab.ready.gateways)).toEqual(['hub']);
    });

    it('routes falkordb.example.com over the mesh to the browser, which reaches FalkorDB beside it', async () => {
      expect(await lab.route('falkordb.example.com')).toEqual({
        instance: 'falkordb-browser-1',
        node: 'hetzner-2',
        upstream: { instance: 'falkordb-1', node: 'hetzner-2' },
      });
    });

    it.each([
      ['/graphiti', 'graphiti-mcp', 'hetzner-2'],
      ['/notes', 'notes-mcp', 'droplet'],
    ])('routes mcp.example.com%s to %s on %s, prefix stripped', async (prefix, service, node) => {
      for (const path of [prefix, `${prefix}/`, `${prefix}/sse`]) {
        expect(await lab.route('mcp.example.com', path), path).toMatchObject({
          instance: `${service}-1`,
          node,
        });
      }
      // echo.js answers /health alone with {ok}: the stand-in saw the path without prefix.
      expect(await lab.route('mcp.example.com', `${prefix}/health`)).toEqual({ ok: true });
    });

    it('answers a path no MCP prefix claims with 404, and /graphitix is not /graphiti', async () => {
      const host = lab.variant.hosts['mcp.example.com']!;
      for (const path of ['/', '/other', '/graphitix']) {
        const result = await lab.cluster.exec('internet', [
          'curl',
          '-sk',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '--max-time',
          '5',
          '--resolve',
          `${host}:443:${lab.cluster.labNode('hub').address}`,
          `https://${host}${path}`,
        ]);
        expect(result.stdout, path).toBe('404');
      }
    });

    it('crosses the mesh only from the gateway: the services’ connections stay on their spoke', async () => {
      // The example's services connect to FalkorDB beside them (segment `graph`); the
      // only traffic between nodes is the gateway proxying routes to the spokes.
      expect(lab.variant.upstreams).toEqual({
        'falkordb-browser': 'falkordb',
        'graphiti-mcp': 'falkordb',
      });
      expect(lab.crossNode()).toEqual([]);
      await lab.expectUpstreams();
      expect(await lab.route('mcp.example.com', '/graphiti')).toMatchObject({
        upstream: { instance: 'falkordb-1', node: 'hetzner-2' },
      });
    });

    it('opens routed ports to the gateway only, FalkorDB to no other node, spokes to each other not at all', async () => {
      const { cluster } = lab;
      const hetzner = lab.mesh('hetzner-2');
      const droplet = lab.mesh('droplet');
      // Routed ports: the gateway may dial them over the mesh…
      expect(await cluster.connects('hub', hetzner, 8000)).toBe(true);
      expect(await cluster.connects('hub', hetzner, 3000)).toBe(true);
      expect(await cluster.connects('hub', droplet, 8080)).toBe(true);
      // …the other spoke may not (no segment or allow rule joins them)…
      expect(await cluster.connects('droplet', hetzner, 8000)).toBe(false);
      expect(await cluster.connects('hetzner-2', droplet, 8080)).toBe(false);
      // …and FalkorDB is for the graph services beside it: not even the gateway.
      expect(await cluster.connects('hub', hetzner, 6379)).toBe(false);
      expect(await cluster.connects('droplet', hetzner, 6379)).toBe(false);
      // It does listen: the refusals above are the firewall's.
      expect(await cluster.connects('hetzner-2', '127.0.0.1', 6379)).toBe(true);
      // The internet reaches the gateway's HTTPS only, never a spoke's service port.
      for (const [node, port] of [
        ['hetzner-2', 8000],
        ['hetzner-2', 6379],
        ['droplet', 8080],
      ] as const) {
        expect(await cluster.connects('internet', cluster.labNode(node).address, port)).toBe(false);
      }
      expect(await cluster.connects('internet', cluster.labNode('hub').address, 443)).toBe(true);
      expect(await cluster.connects('internet', cluster.labNode('droplet').address, 443)).toBe(
        false,
      );
    });
  },
);
