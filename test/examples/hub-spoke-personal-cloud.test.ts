// examples/hub-spoke-personal-cloud: one gateway routes falkordb.<domain> and
// mcp.<domain>/<name> to services on spoke nodes over the tailnet; spokes stay closed.
import { beforeAll, describe, expect, it } from 'vitest';
import { upstreamSets } from '../../src/plan/caddy.ts';
import type { CaddyHandler, CaddyRoute } from '../../src/plan/caddy-json.ts';
import { nodeTag } from '../../src/plan/tailscale-acl.ts';
import { acceptRules, desiredOf, loadExample, nodeOf, type LoadedExample } from './load-example.ts';

let example: LoadedExample;

beforeAll(async () => {
  example = await loadExample('hub-spoke-personal-cloud');
});

const SPOKES = ['hetzner-2', 'droplet'];
const meshOf = (node: string) => example.plan.nodes[node]!.mesh_address;

/** The routes Caddy on `gateway` runs for requests to `host`. */
function caddyRoutesFor(gateway: string, host: string): CaddyRoute[] {
  const config = example.plan.caddy[gateway];
  if (!config) throw new Error(`no Caddy config for ${gateway}`);
  const hostRoutes = Object.values(config.apps.http.servers)
    .flatMap((server) => server.routes)
    .filter((route) => route.match?.some((matcher) => matcher.host?.includes(host)));
  return hostRoutes.flatMap((route) =>
    route.handle.flatMap((handler) =>
      handler.handler === 'subroute' ? (handler['routes'] as unknown as CaddyRoute[]) : [route],
    ),
  );
}

/** Where the proxy sends requests when every placed instance is healthy: its SRV name's set. */
const dials = (handler: CaddyHandler | undefined) => {
  const name = (handler?.['dynamic_upstreams'] as { name?: string } | undefined)?.name;
  return name === undefined ? [] : (upstreamSets(example.plan.routes)[name] ?? []);
};

describe('hub-spoke personal cloud', () => {
  it('runs on a Tailscale tailnet with one gateway and two spokes', () => {
    expect(example.stack.mesh.provider).toBe('tailscale');
    expect(example.plan.nodes['hub']?.gateway).toBe(true);
    for (const spoke of SPOKES) expect(example.plan.nodes[spoke]?.gateway, spoke).toBe(false);
    expect(Object.keys(example.plan.caddy)).toEqual(['hub']);
  });

  it.each([
    ['/graphiti', 'graphiti-mcp', 'hetzner-2', 8000],
    ['/notes', 'notes-mcp', 'droplet', 8080],
  ])(
    'routes mcp.example.com%s to %s on %s over the mesh, prefix stripped',
    (path, service, node, port) => {
      const route = example.plan.routes.find(
        (entry) => entry.host === 'mcp.example.com' && entry.path === path,
      );
      expect(route?.service).toBe(service);
      expect(route?.strip_prefix).toBe(true);
      expect(nodeOf(example.plan, service)).toEqual([node]);
      expect(route?.upstreams).toEqual([
        { instance: `${service}-1`, node, dial: `${meshOf(node)}:${port}` },
      ]);
      expect(route?.upstreams[0]?.dial).not.toMatch(/^127\./);

      // In the gateway's Caddy config: the prefix is stripped before the request is proxied.
      const caddyRoute = caddyRoutesFor('hub', 'mcp.example.com').find((entry) =>
        entry.match?.some((matcher) => matcher.path?.includes(path)),
      );
      expect(caddyRoute).toBeDefined();
      const handlers = caddyRoute!.handle.map((handler) => handler.handler);
      const rewrite = caddyRoute!.handle.find((handler) => handler.handler === 'rewrite');
      expect(rewrite?.['strip_path_prefix']).toBe(path);
      expect(handlers.indexOf('rewrite')).toBeLessThan(handlers.indexOf('reverse_proxy'));
      const proxy = caddyRoute!.handle.find((handler) => handler.handler === 'reverse_proxy');
      expect(dials(proxy)).toEqual([`${meshOf(node)}:${port}`]);
    },
  );

  it('routes falkordb.example.com to the FalkorDB browser on its spoke', () => {
    const route = example.plan.routes.find((entry) => entry.host === 'falkordb.example.com');
    expect(route?.service).toBe('falkordb-browser');
    expect(route?.path).toBeUndefined();
    expect(route?.upstreams.map((upstream) => upstream.dial)).toEqual([
      `${meshOf('hetzner-2')}:3000`,
    ]);
    const proxy = caddyRoutesFor('hub', 'falkordb.example.com')
      .flatMap((entry) => entry.handle)
      .find((handler) => handler.handler === 'reverse_proxy');
    expect(dials(proxy)).toEqual([`${meshOf('hetzner-2')}:3000`]);
  });

  it('lets the GraphITI server find FalkorDB by interpolation', () => {
    // Both are containers on the hub: by service name, on the stack's Docker network.
    expect(desiredOf(example.plan, 'graphiti-mcp').env['FALKORDB_URI']).toBe(
      'redis://falkordb:6379',
    );
  });

  it('opens 80/443 on the gateway only', () => {
    const webPorts = (node: string) =>
      acceptRules(example.plan.firewall[node]!).filter((rule) =>
        rule.ports.some((port) => port === 80 || port === 443),
      );
    expect(webPorts('hub').length).toBeGreaterThan(0);
    for (const spoke of SPOKES) expect(webPorts(spoke), spoke).toEqual([]);
  });

  it('opens routed ports on spokes to the tailnet and the gateway only, FalkorDB to nobody', () => {
    const hetzner = acceptRules(example.plan.firewall['hetzner-2']!);
    const serviceRules = hetzner.filter((rule) =>
      [3000, 6379, 8000].some((port) => rule.ports.includes(port)),
    );
    expect(serviceRules.map((rule) => rule.ports)).toEqual([[3000], [8000]]);
    for (const rule of serviceRules) {
      expect(rule.iifname).toBe('tailscale0');
      expect(rule.saddr).toEqual([meshOf('hub')]);
    }
    const droplet = acceptRules(example.plan.firewall['droplet']!).filter((rule) =>
      rule.ports.includes(8080),
    );
    expect(droplet.map((rule) => rule.saddr)).toEqual([[meshOf('hub')]]);
  });

  it('lets the gateway’s tag reach the routed ports in the Tailscale ACL, and not FalkorDB', () => {
    const acl = example.plan.acl;
    expect(acl).not.toBeNull();
    const fromHub = acl!.acls
      .filter((rule) => rule.src.includes(nodeTag('hub')))
      .flatMap((rule) => rule.dst);
    expect(fromHub).toEqual(
      expect.arrayContaining([
        `${nodeTag('hetzner-2')}:3000`,
        `${nodeTag('hetzner-2')}:8000`,
        `${nodeTag('droplet')}:8080`,
      ]),
    );
    const everyDestination = acl!.acls.flatMap((rule) => rule.dst);
    expect(everyDestination).not.toContain(`${nodeTag('hetzner-2')}:6379`);
  });
});
