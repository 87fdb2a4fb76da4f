// examples/segmented-ai-stack runs for real in the lab: twelve image services on one VPS in
// four segments (frontend, backend and monitoring internal, egress), plus Uptime Kuma on
// an ops node watching the routed services over the mesh; every image a container of the
// stand-in image, each node with its own dockerd (fixtures/example-lab.ts). Checks
// placement, the routes, that containers reach what shares a segment with them by name and
// nothing in another segment (not by address, not through the node's published ports),
// egress from the egress segment only, Uptime Kuma's grants across the mesh, and the
// firewall. Needs root.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExampleLab, isRoot, type Echo } from './fixtures/example-lab.ts';

describe.skipIf(!isRoot)('examples/segmented-ai-stack in the lab', { timeout: 60_000 }, () => {
  const lab = new ExampleLab('examples/segmented-ai-stack/flotilla.yml');

  beforeAll(() => lab.start(), 240_000);
  afterAll(() => lab.close(), 120_000);

  /** `service`'s container address on its segment's network `segment`. */
  async function addressOn(service: string, segment: string): Promise<string> {
    const container = await lab.cluster
      .engine(lab.nodeOf(service))
      .containers.inspect(lab.containerOf(service));
    const address = container.networks[`flotilla-vpai-${segment}`]?.ipAddress;
    if (!address) throw new Error(`${service} has no address on ${segment}`);
    return address;
  }

  /** What `from`'s container gets for `url`, parsed; undefined when it does not connect. */
  async function fetchFrom(from: string, url: string): Promise<Echo | undefined> {
    const body = await lab.fromContainer(from, url);
    return body === undefined ? undefined : (JSON.parse(body) as Echo);
  }

  it('runs every service in a container on prod, Uptime Kuma on ops', async () => {
    await lab.expectPlacement();
    expect(lab.variant.containers).toHaveLength(12);
    expect(Object.keys(lab.ready.gateways)).toEqual(['prod']);
  });

  it.each([
    ['n8n.example.com', 'n8n'],
    ['llm.example.com', 'litellm'],
    ['openclaw.example.com', 'openclaw'],
    ['grafana.example.com', 'grafana'],
  ])('routes %s to %s, whatever its segment', async (host, service) => {
    expect(await lab.route(host)).toMatchObject({ instance: `${service}-1`, node: 'prod' });
  });

  it('connects each service to what it uses in a segment they share, by service name', async () => {
    expect(lab.variant.upstreams).toMatchObject({
      n8n: 'postgres', // backend
      litellm: 'postgres', // backend
      openclaw: 'postgres', // backend
      alloy: 'victoriametrics', // monitoring
      grafana: 'victoriametrics', // monitoring
    });
    await lab.expectUpstreams();
    // Alloy sits in backend and monitoring: it reaches both by name.
    expect(await fetchFrom('alloy', 'http://loki:3100/')).toMatchObject({ instance: 'loki-1' });
    expect(await fetchFrom('alloy', 'http://postgres:5432/')).toMatchObject({
      instance: 'postgres-1',
    });
  });

  it('keeps containers in different segments apart on the node', async () => {
    const postgres = await addressOn('postgres', 'backend');
    const victoria = await addressOn('victoriametrics', 'monitoring');
    // The positive control: n8n shares backend with PostgreSQL.
    expect(await fetchFrom('n8n', `http://${postgres}:5432/`)).toMatchObject({
      instance: 'postgres-1',
    });
    // Grafana (frontend, monitoring), DIUN (default) and VictoriaMetrics (monitoring) are
    // not in backend: no name for PostgreSQL, and its address is not forwarded to them. Nor
    // are the backend workers in monitoring. Nor is a published port a way round: n8n is
    // published on prod's mesh address for Uptime Kuma, and Grafana's packets to it come
    // in on a bridge, not the mesh. (In parallel: each refusal waits out a timeout.)
    const refused = [
      ...['grafana', 'diun', 'victoriametrics'].flatMap((from) => [
        [from, 'http://postgres:5432/'],
        [from, `http://${postgres}:5432/`],
      ]),
      ['n8n', `http://${victoria}:8428/`],
      ['grafana', `http://${lab.mesh('prod')}:5678/`],
    ] as const;
    const answers = await Promise.all(refused.map(([from, url]) => fetchFrom(from, url)));
    const outcome = (answer: (index: number) => Echo | undefined) =>
      Object.fromEntries(
        refused.map(([from, url], index) => [`${from} → ${url}`, answer(index) ?? 'refused']),
      );
    expect(outcome((index) => answers[index])).toEqual(outcome(() => undefined));
  });

  /** Whether `service`'s container gets an answer from the lab's internet (one ping). */
  async function pingsInternet(service: string): Promise<boolean> {
    const result = await lab.cluster.engine('prod').exec.run(lab.containerOf(service), {
      cmd: ['ping', '-c', '1', '-W', '2', lab.cluster.lab.internetAddress],
      timeoutMs: 10_000,
    });
    return result.exitCode === 0;
  }

  it('lets a container out of the node from an egress segment only', async () => {
    const services = ['diun', 'postgres', 'loki', 'grafana'];
    const out = await Promise.all(services.map((service) => pingsInternet(service)));
    expect(Object.fromEntries(services.map((service, index) => [service, out[index]]))).toEqual({
      diun: true, // default: egress, as the example says
      postgres: false, // backend: internal
      loki: false, // monitoring: internal
      grafana: false, // frontend, monitoring: no egress
    });
  });

  // dockerd routes a container in several segments through the network whose name sorts
  // first (backend, for n8n); the agent sets its default route to its egress segment's
  // gateway (default-route.ts). It keeps its backend peers by name.
  it('lets a container in an egress segment and an internal one out (n8n)', async () => {
    expect(await pingsInternet('n8n')).toBe(true);
    expect(await fetchFrom('n8n', 'http://postgres:5432/')).toMatchObject({
      instance: 'postgres-1',
    });
  });

  it('lets Uptime Kuma on ops reach the routed services over the mesh, and nothing else', async () => {
    const prod = lab.mesh('prod');
    const granted = [
      ['n8n', 5678],
      ['litellm', 4000],
      ['openclaw', 8080],
      ['grafana', 3000],
    ] as const;
    const answers = await Promise.all(
      granted.map(([, port]) => fetchFrom('uptime-kuma', `http://${prod}:${port}/`)),
    );
    granted.forEach(([service], index) =>
      expect(answers[index], service).toMatchObject({ instance: `${service}-1`, node: 'prod' }),
    );
    // The data and monitoring services are for their segments only: not for the container,
    // nor for its node. (In parallel: each refusal waits out a timeout.)
    const closed = [5432, 6379, 6333, 8428, 3100];
    const reached = await Promise.all(
      closed.flatMap((port) => [
        fetchFrom('uptime-kuma', `http://${prod}:${port}/`).then((body) => body !== undefined),
        lab.cluster.connects('ops', prod, port),
      ]),
    );
    expect(reached).toEqual(closed.flatMap(() => [false, false]));
  });

  it('opens HTTPS on prod to the internet and no service port', async () => {
    const { cluster } = lab;
    const prod = cluster.labNode('prod').address;
    expect(await cluster.connects('internet', prod, 443)).toBe(true);
    for (const port of [5678, 4000, 3000, 5432, 8428])
      expect(await cluster.connects('internet', prod, port), String(port)).toBe(false);
    expect(await cluster.connects('internet', cluster.labNode('ops').address, 3001)).toBe(false);
    // Uptime Kuma listens, on its own node: the refusal above is the firewall's.
    expect(await cluster.connects('ops', '127.0.0.1', 3001)).toBe(true);
  });
});
