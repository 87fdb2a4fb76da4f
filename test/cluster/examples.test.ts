// Two reference architectures run for real in the lab: examples/two-vps-storage-compute and
// examples/hub-spoke-personal-cloud, each as a lab variant (fixtures/lab-variant.ts: the
// same nodes, segments, routes, ports and grants; echo.js stand-ins instead of the
// images; WireGuard instead of the tailnet). Checks placement, every route through the
// gateways, the connections that cross the mesh, and the firewall. Needs root.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/plan.ts';
import type { StatusReport } from '../../src/hub/status-report.ts';
import { parse } from 'yaml';
import { readFile } from 'node:fs/promises';
import { flotilla } from '../helpers/flotilla-cli.ts';
import { LabCluster } from '../helpers/lab-cluster.ts';
import { writeLabVariant, type LabVariant } from './fixtures/lab-variant.ts';

const isRoot = process.getuid?.() === 0;

interface Echo {
  instance: string;
  node: string;
  upstream?: Echo | { error: string };
}

async function planOf(file: string): Promise<Plan> {
  const result = await flotilla(['plan', '--json', '-f', file]);
  if (result.code !== 0) throw new Error(`plan failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Plan;
}

/** The `node:` field of every service in the example's own file. */
async function declaredNodes(exampleFile: string): Promise<Record<string, string>> {
  const document = parse(await readFile(exampleFile, 'utf8')) as {
    services: Record<string, { node?: string }>;
  };
  return Object.fromEntries(
    Object.entries(document.services).map(([name, service]) => [name, service.node ?? '']),
  );
}

/** Everything one example's describe block needs; each block starts and closes its own. */
class ExampleLab {
  variant!: LabVariant;
  plan!: Plan;
  cluster!: LabCluster;
  ready!: StatusReport;

  constructor(readonly exampleFile: string) {}

  async start(): Promise<void> {
    this.variant = await writeLabVariant(this.exampleFile);
    this.plan = await planOf(this.variant.file);
    this.cluster = await LabCluster.start({
      stackFile: this.variant.file,
      nodes: this.variant.nodes,
    });
    this.ready = await this.cluster.until((report) => report.ready, 90_000);
  }

  async close(): Promise<void> {
    await this.cluster?.close();
    await this.variant?.remove();
  }

  mesh(node: string): string {
    const address = this.plan.nodes[node]?.mesh_address;
    if (!address) throw new Error(`no mesh address for ${node}`);
    return address;
  }

  port(service: string): number {
    const placed = this.plan.placement.find((instance) => instance.service === service);
    const port = placed && Object.values(placed.ports)[0];
    if (port === undefined) throw new Error(`no port for ${service}`);
    return port;
  }

  nodeOf(service: string): string {
    const placed = this.plan.placement.filter((instance) => instance.service === service);
    if (placed.length !== 1) throw new Error(`expected one instance of ${service}`);
    return placed[0]!.node;
  }

  /** A route of the example (its own host) through a gateway, parsed. */
  async route(host: string, path = '/', gateway?: string): Promise<Echo> {
    const labHost = this.variant.hosts[host];
    if (!labHost) throw new Error(`${host} is not a route of the example`);
    const result = await this.cluster.viaGateway(labHost, path, gateway);
    expect(result.code, `${host}${path}: ${result.stderr}`).toBe(0);
    return JSON.parse(result.stdout) as Echo;
  }

  /** What a stand-in answers on its own node (loopback), where no route leads to it. */
  async direct(service: string): Promise<Echo> {
    const result = await this.cluster.exec(this.nodeOf(service), [
      'curl',
      '-s',
      '--max-time',
      '5',
      `http://127.0.0.1:${this.port(service)}/`,
    ]);
    expect(result.code, `${service}: ${result.stderr}`).toBe(0);
    return JSON.parse(result.stdout) as Echo;
  }

  /** Asserts every instance is healthy, on the node plan put it on, and on the example's own. */
  async expectPlacement(): Promise<void> {
    const declared = await declaredNodes(this.exampleFile);
    const planned = Object.fromEntries(
      this.plan.placement.map((instance) => [instance.instance, instance.node]),
    );
    const running = Object.fromEntries(
      this.ready.instances.map((instance) => [instance.id, instance.node]),
    );
    expect(running).toEqual(planned);
    for (const instance of this.ready.instances) {
      expect(instance.healthy, instance.id).toBe(true);
      expect(instance.state, instance.id).toBe('running');
      expect(instance.node, instance.id).toBe(declared[instance.service]);
    }
    expect(Object.keys(running)).toHaveLength(Object.keys(declared).length);
  }

  /** Every stand-in with an UPSTREAM reports that upstream's answer, from the right node. */
  async expectUpstreams(): Promise<void> {
    for (const [service, upstream] of Object.entries(this.variant.upstreams)) {
      expect(await this.direct(service), service).toMatchObject({
        instance: `${service}-1`,
        node: this.nodeOf(service),
        upstream: { instance: `${upstream}-1`, node: this.nodeOf(upstream) },
      });
    }
  }

  /** UPSTREAM pairs whose two ends are on different nodes. */
  crossNode(): [string, string][] {
    return Object.entries(this.variant.upstreams).filter(
      ([service, upstream]) => this.nodeOf(service) !== this.nodeOf(upstream),
    );
  }
}

describe.skipIf(!isRoot)('examples/two-vps-storage-compute in the lab', { timeout: 60_000 }, () => {
  const lab = new ExampleLab('examples/two-vps-storage-compute/flotilla.yml');

  beforeAll(() => lab.start(), 150_000);
  afterAll(() => lab.close(), 120_000);

  it('runs every instance, healthy, on the node the example puts it on', async () => {
    await lab.expectPlacement();
    // Both VPS terminate HTTPS: both gateways run the hub's route table.
    expect(Object.keys(lab.ready.gateways).sort()).toEqual(['compute', 'storage']);
    for (const gateway of Object.values(lab.ready.gateways)) expect(gateway.in_sync).toBe(true);
  });

  it.each([
    ['cms.example.com', 'directus', 'storage'],
    ['photos.example.com', 'photoprism', 'storage'],
    ['n8n.example.com', 'n8n', 'storage'],
    ['chat.example.com', 'librechat', 'compute'],
    ['ai.example.com', 'open-webui', 'compute'],
  ])('routes %s to %s on %s through either gateway', async (host, service, node) => {
    for (const gateway of ['storage', 'compute']) {
      const body = await lab.route(host, '/', gateway);
      expect(body, `via ${gateway}`).toMatchObject({ instance: `${service}-1`, node });
    }
  });

  it('connects LibreChat on compute to FerretDB on storage, and FerretDB to PostgreSQL', async () => {
    expect(await lab.route('chat.example.com')).toEqual({
      instance: 'librechat-1',
      node: 'compute',
      upstream: {
        instance: 'ferretdb-1',
        node: 'storage',
        upstream: { instance: 'postgres-1', node: 'storage' },
      },
    });
  });

  it('makes every cross-node connection of the write-up over the mesh', async () => {
    // The write-up's "Service Communication": compute → storage and storage → compute.
    expect(lab.crossNode().sort()).toEqual([
      ['directus', 'litellm'],
      ['librechat', 'ferretdb'],
      ['metamcp', 'postgres'],
      ['n8n', 'litellm'],
    ]);
    await lab.expectUpstreams();
    // UPSTREAM resolves to the other node's mesh address, where only the granted node
    // gets through: the answers above crossed the mesh.
    const directus = lab.plan.desired['storage']?.instances.find(
      (instance) => instance.service === 'directus',
    );
    expect(directus?.env['UPSTREAM']).toBe(`http://${lab.mesh('compute')}:4000/`);
    expect(await lab.route('cms.example.com', '/', 'compute')).toEqual({
      instance: 'directus-1',
      node: 'storage',
      upstream: { instance: 'litellm-1', node: 'compute' },
    });
  });

  it('opens each port to the nodes the example grants it to, over the mesh only', async () => {
    const { cluster } = lab;
    const storage = lab.mesh('storage');
    const compute = lab.mesh('compute');
    // firewall.allow librechat → ferretdb, metamcp → postgres: compute may, the internet
    // may not, nor compute on storage's public address.
    expect(await cluster.connects('compute', storage, 27017)).toBe(true);
    expect(await cluster.connects('compute', storage, 5432)).toBe(true);
    const storagePublic = cluster.labNode('storage').address;
    expect(await cluster.connects('internet', storagePublic, 27017)).toBe(false);
    expect(await cluster.connects('internet', storagePublic, 5432)).toBe(false);
    expect(await cluster.connects('compute', storagePublic, 5432)).toBe(false);
    // firewall.allow n8n, directus → litellm: storage may reach LiteLLM…
    expect(await cluster.connects('storage', compute, 4000)).toBe(true);
    // …but Ollama and Browserless sit in compute's segment with no grant: only
    // same-node services (loopback) use them.
    expect(await cluster.connects('storage', compute, 11434)).toBe(false);
    expect(await cluster.connects('storage', compute, 3000)).toBe(false);
    expect(await cluster.connects('compute', '127.0.0.1', 11434)).toBe(true);
    const computePublic = cluster.labNode('compute').address;
    expect(await cluster.connects('internet', computePublic, 4000)).toBe(false);
    // Each VPS serves public HTTPS, as in the write-up (ufw allow 443 on both).
    expect(await cluster.connects('internet', storagePublic, 443)).toBe(true);
    expect(await cluster.connects('internet', computePublic, 443)).toBe(true);
  });
});

describe.skipIf(!isRoot)(
  'examples/hub-spoke-personal-cloud in the lab',
  { timeout: 60_000 },
  () => {
    const lab = new ExampleLab('examples/hub-spoke-personal-cloud/flotilla.yml');

    beforeAll(() => lab.start(), 150_000);
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
