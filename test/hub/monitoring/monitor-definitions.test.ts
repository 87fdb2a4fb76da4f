// The monitors Flotilla derives from a stack: one per route and gateway, per planned
// instance, per node (reachability and disk), per mesh pair and per backup job, plus the
// declared ones with their own settings, under names an apply keeps.
import { describe, expect, it } from 'vitest';
import { monitorDefinitions } from '../../../src/hub/monitoring/monitor-definitions.ts';
import { parseStackText } from '../../../src/spec/load.ts';

const TEXT = `name: shop
nodes:
  edge: { address: 203.0.113.10, gateway: true }
  db: { address: 203.0.113.11 }
  batch: { address: 203.0.113.12, gateway: true }
services:
  api:
    node: edge
    replicas: 2
    run: { command: [node, server.js] }
    ports: { http: 3000 }
    routes: [{ host: api.example.com }, { host: example.com, path: /api }]
  postgres:
    node: db
    run: { command: [postgres] }
    ports: { pg: 5432 }
    backup: { kind: postgres, schedule: "0 2 * * *", to: local }
backups:
  targets: { local: { repository: /srv/backups, password: "\${secret:RESTIC_PASSWORD}" } }
monitors:
  homepage:
    http: { url: https://example.com/ }
    from: batch
    interval: 5m
    retries: 5
  nightly:
    heartbeat: { period: 1d }
monitoring:
  interval: 20s
  push: { host: status.example.com }
`;

function definitions() {
  const loaded = parseStackText(TEXT, 'flotilla.yml');
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
  return new Map(monitorDefinitions(loaded.stack).map((d) => [d.name, d]));
}

describe('derived monitors', () => {
  it('names every route, instance, node, disk, mesh pair, backup job and declared monitor', () => {
    expect([...definitions().keys()].sort()).toEqual(
      [
        'route:api.example.com/',
        'route:example.com/api',
        'route:api.example.com/@batch',
        'route:example.com/api@batch',
        'instance:api-1',
        'instance:api-2',
        'instance:postgres-1',
        'node:edge',
        'node:db',
        'node:batch',
        'disk:edge',
        'disk:db',
        'disk:batch',
        'mesh:edge/db',
        'mesh:edge/batch',
        'mesh:db/batch',
        'backup:postgres',
        'homepage',
        'nightly',
      ].sort(),
    );
  });

  it('checks routes from the hub’s own gateway, declared checks from their node', () => {
    const all = definitions();
    const route = all.get('route:example.com/api')!;
    expect(route.target).toEqual({
      kind: 'route',
      host: 'example.com',
      path: '/api',
      service: 'api',
      gateway: 'edge',
    });
    // The hub runs on the first gateway: it checks the route itself.
    expect(route.from).toBeUndefined();
    expect(route).toMatchObject({ intervalMs: 20_000, retries: 3, service: 'api', node: 'edge' });
    // Through the second gateway's own Caddy, by its agent.
    expect(all.get('route:example.com/api@batch')).toMatchObject({
      from: 'batch',
      node: 'batch',
      target: { kind: 'route', gateway: 'batch' },
    });
    expect(all.get('homepage')).toMatchObject({
      from: 'batch',
      node: 'batch',
      intervalMs: 300_000,
      retries: 5,
      timeoutMs: 10_000,
    });
    expect(all.get('mesh:db/batch')).toMatchObject({
      target: { kind: 'mesh', from: 'db', to: 'batch' },
    });
  });

  it('alerts on states the agents already debounce at the first bad check', () => {
    const all = definitions();
    for (const name of ['instance:api-1', 'node:db', 'backup:postgres', 'nightly'])
      expect(all.get(name)!.retries, name).toBe(1);
    expect(all.get('nightly')!.target).toEqual({
      kind: 'heartbeat',
      periodMs: 86_400_000,
      graceMs: 300_000,
    });
    expect(all.get('disk:db')!.retries).toBe(3);
  });
});
