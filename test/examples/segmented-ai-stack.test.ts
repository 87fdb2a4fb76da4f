// examples/segmented-ai-stack: the write-up's four segments and service matrix, its
// startup order, and its 7d/4w/6m/2y restic backups to S3, as the plan sees them.
import { beforeAll, describe, expect, it } from 'vitest';
import { computeReachability, mayReach, type Reachability } from '../../src/plan/reachability.ts';
import { acceptRules, loadEditedExample, loadExample, type LoadedExample } from './load-example.ts';

let example: LoadedExample;
let reach: Reachability;

beforeAll(async () => {
  example = await loadExample('segmented-ai-stack');
  reach = computeReachability(example.stack);
});

// The write-up's service matrix (section 3); Caddy is the gateway, DIUN is in none.
const MATRIX: Record<string, string[]> = {
  postgres: ['backend'],
  redis: ['backend'],
  qdrant: ['backend'],
  n8n: ['backend', 'egress'],
  litellm: ['backend', 'egress'],
  openclaw: ['backend', 'egress'],
  victoriametrics: ['monitoring'],
  loki: ['monitoring'],
  alloy: ['backend', 'monitoring'],
  grafana: ['frontend', 'monitoring'],
};

const PORTS: Record<string, number> = {
  postgres: 5432,
  redis: 6379,
  qdrant: 6333,
  n8n: 5678,
  litellm: 4000,
  openclaw: 8080,
  victoriametrics: 8428,
  loki: 3100,
  alloy: 12345,
  grafana: 3000,
};

// The write-up's startup-order diagram (section 7), Caddy aside.
const STARTS_AFTER: Record<string, string[]> = {
  n8n: ['postgres'],
  litellm: ['postgres', 'redis'],
  openclaw: ['postgres', 'qdrant', 'redis'],
  alloy: ['loki', 'victoriametrics'],
  grafana: ['loki', 'victoriametrics'],
};

const WORKERS = ['n8n', 'litellm', 'openclaw'];
const DATA = ['postgres', 'redis', 'qdrant'];

describe('segmented AI stack', () => {
  it('declares the four segments with the write-up’s flags', () => {
    const { networks } = example.stack;
    expect(networks['frontend']).toEqual({ internal: false, egress: false });
    expect(networks['backend']).toEqual({ internal: true, egress: false });
    expect(networks['monitoring']).toEqual({ internal: true, egress: false });
    expect(networks['egress']).toEqual({ internal: false, egress: true });
  });

  it('puts every service in the segments of the service matrix, on its port', () => {
    for (const [service, segments] of Object.entries(MATRIX)) {
      const spec = example.stack.services[service];
      expect(spec?.networks, service).toEqual(segments);
      expect(Object.values(spec?.ports ?? {}), service).toEqual([PORTS[service]]);
      expect(spec?.node, service).toBe('prod');
    }
    expect(example.stack.services['diun']?.ports).toEqual({});
  });

  it('keeps Grafana away from the backend', () => {
    for (const service of [...DATA, ...WORKERS]) {
      expect(mayReach(reach, 'grafana', service), `grafana → ${service}`).toBe(false);
    }
    expect(
      example.plan.reachability.grants.filter(
        (grant) => grant.from === 'grafana' && grant.to === 'postgres',
      ),
    ).toEqual([]);
    // …while it reads its data sources.
    expect(mayReach(reach, 'grafana', 'victoriametrics')).toBe(true);
    expect(mayReach(reach, 'grafana', 'loki')).toBe(true);
  });

  it('lets Alloy reach both the monitoring and the backend segments', () => {
    expect(mayReach(reach, 'alloy', 'victoriametrics', 'http')).toBe(true);
    expect(mayReach(reach, 'alloy', 'loki', 'http')).toBe(true);
    expect(mayReach(reach, 'alloy', 'postgres', 'main')).toBe(true);
    expect(mayReach(reach, 'alloy', 'litellm', 'http')).toBe(true);
  });

  it('gives internet egress to the workers only, not the data services or monitoring', () => {
    expect(reach.egress).toEqual(expect.arrayContaining(WORKERS));
    for (const service of [...DATA, 'victoriametrics', 'loki', 'alloy', 'grafana']) {
      expect(reach.egress, service).not.toContain(service);
    }
    expect(example.plan.reachability.egress).toEqual(reach.egress);
  });

  it('lets the workers reach the data services they use', () => {
    for (const [worker, dependencies] of Object.entries(STARTS_AFTER)) {
      for (const dependency of dependencies) {
        expect(mayReach(reach, worker, dependency), `${worker} → ${dependency}`).toBe(true);
      }
    }
    expect(mayReach(reach, 'openclaw', 'litellm')).toBe(true);
  });

  it('starts services in the order of the diagram', () => {
    const { order } = example.plan;
    const wave = (service: string) => order.findIndex((names) => names.includes(service));
    for (const [service, dependencies] of Object.entries(STARTS_AFTER)) {
      expect(example.stack.services[service]?.depends_on.slice().sort(), service).toEqual(
        dependencies,
      );
      for (const dependency of dependencies) {
        expect(wave(dependency), `${dependency} before ${service}`).toBeLessThan(wave(service));
      }
    }
    expect(order[0]).toEqual(expect.arrayContaining([...DATA, 'victoriametrics', 'loki']));
    expect(order[1]).toEqual(expect.arrayContaining([...WORKERS, 'alloy', 'grafana']));
    for (const service of DATA) expect(example.stack.services[service]?.depends_on).toEqual([]);
  });

  it('routes the four public services through the gateway on prod', () => {
    const routes = Object.fromEntries(example.plan.routes.map((route) => [route.host, route]));
    const expected = {
      'n8n.example.com': 'n8n',
      'llm.example.com': 'litellm',
      'openclaw.example.com': 'openclaw',
      'grafana.example.com': 'grafana',
    };
    expect(Object.keys(routes).sort()).toEqual(Object.keys(expected).sort());
    for (const [host, service] of Object.entries(expected)) {
      expect(routes[host]?.service).toBe(service);
      expect(routes[host]?.upstreams.map((upstream) => upstream.dial)).toEqual([
        `127.0.0.1:${PORTS[service]}`,
      ]);
    }
  });

  it('opens no data or monitoring port on prod, and the routed ones only to the VPN node', () => {
    const rules = acceptRules(example.plan.firewall['prod']!);
    const opsMesh = example.plan.nodes['ops']!.mesh_address;
    for (const service of [...DATA, 'victoriametrics', 'loki', 'alloy']) {
      expect(
        rules.filter((rule) => rule.ports.includes(PORTS[service]!)),
        service,
      ).toEqual([]);
    }
    for (const service of ['n8n', 'litellm', 'openclaw', 'grafana']) {
      const opening = rules.filter((rule) => rule.ports.includes(PORTS[service]!));
      expect(opening, service).toHaveLength(1);
      expect(opening[0]?.saddr, service).toEqual([opsMesh]);
      expect(opening[0]?.iifname, service).toBe('flo-prod');
    }
  });

  it('refuses to allow an outside network into the internal backend', () => {
    const result = loadEditedExample('segmented-ai-stack', (document) => {
      const firewall = document['firewall'] as { allow: unknown[] };
      firewall.allow.push({ from: ['198.51.100.0/24'], to: 'postgres' });
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.diagnostics.map((d) => d.message).join('\n')).toMatch(
      /only in internal networks/,
    );
  });

  it('backs up every database, Redis, Qdrant and n8n nightly to S3 with 7d/4w/6m/2y', () => {
    const { backups, services } = example.stack;
    const target = backups.targets['s3'];
    expect(target?.repository).toMatch(/^s3:https:\/\//);
    expect(target?.password).toBe('${secret:RESTIC_PASSWORD}');
    const jobs = [
      ...Object.values(backups.jobs),
      ...Object.entries(services).flatMap(([name, spec]) =>
        spec.backup ? [{ ...spec.backup, service: name }] : [],
      ),
    ];
    expect(jobs.length).toBeGreaterThanOrEqual(6);
    for (const job of jobs) {
      expect(job.to).toBe('s3');
      expect(job.schedule).toBe('0 3 * * *');
      expect(job.keep).toEqual({ daily: 7, weekly: 4, monthly: 6, yearly: 2 });
    }
    const databases = jobs.filter((job) => job.kind === 'postgres').map((job) => job.database);
    expect(databases.slice().sort()).toEqual(['litellm', 'n8n', 'openclaw']);
    expect(jobs.find((job) => job.kind === 'redis')?.service).toBe('redis');
    expect(jobs.find((job) => job.service === 'qdrant')?.kind).toBe('files');
    expect(jobs.find((job) => job.service === 'n8n')?.command).toContain('export:workflow');
  });
});
