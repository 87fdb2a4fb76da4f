// examples/two-vps-storage-compute runs for real in the lab: two VPS, every service an
// image, so containers of the stand-in image on both nodes, each node with its own dockerd
// (fixtures/example-lab.ts). Checks placement, every route through either gateway, the
// connections its services make (container to container by name on one node, and across
// the mesh both ways), and the firewall. Needs root.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExampleLab, isRoot } from './fixtures/example-lab.ts';

describe.skipIf(!isRoot)('examples/two-vps-storage-compute in the lab', { timeout: 60_000 }, () => {
  const lab = new ExampleLab('examples/two-vps-storage-compute/flotilla.yml');

  beforeAll(() => lab.start(), 240_000);
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
    // UPSTREAM leads to the other node's mesh address, where only the granted node gets
    // through: the answers above crossed the mesh. Directus's container names LiteLLM by its
    // mesh address, or by its name with an extra host at that address.
    const directus = lab.plan.desired['storage']!.instances.find(
      (instance) => instance.service === 'directus',
    )!;
    const upstream = new URL(directus.env['UPSTREAM']!);
    const extraHosts = (directus.runtime as { remote_hosts?: Record<string, string> }).remote_hosts;
    expect(extraHosts?.[upstream.hostname] ?? upstream.hostname).toBe(lab.mesh('compute'));
    expect(upstream.port).toBe('4000');
    expect(await lab.route('cms.example.com', '/', 'compute')).toEqual({
      instance: 'directus-1',
      node: 'storage',
      upstream: { instance: 'litellm-1', node: 'compute' },
    });
  });

  it('reaches a container beside it by service name over their segment’s network', async () => {
    // Open WebUI → Ollama, both on compute in segment `compute`: the network alias and the
    // port inside Ollama's container, not a published port.
    const openWebui = lab.plan.desired['compute']?.instances.find(
      (instance) => instance.service === 'open-webui',
    );
    expect(openWebui?.env['UPSTREAM']).toBe('http://ollama:11434/');
    expect(await lab.route('ai.example.com')).toEqual({
      instance: 'open-webui-1',
      node: 'compute',
      upstream: { instance: 'ollama-1', node: 'compute' },
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
