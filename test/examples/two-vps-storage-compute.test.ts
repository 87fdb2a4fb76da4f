// examples/two-vps-storage-compute: storage and compute over Tailscale, connection strings
// to the other node's mesh address, service ports open only to the node that uses them.
import { beforeAll, describe, expect, it } from 'vitest';
import { nodeTag } from '../../src/plan/tailscale-acl.ts';
import {
  acceptRules,
  desiredOf,
  loadExample,
  nodeOf,
  rulesForPort,
  type LoadedExample,
} from './load-example.ts';

let example: LoadedExample;

beforeAll(async () => {
  example = await loadExample('two-vps-storage-compute');
});

// The write-up's "VPS Overview": service → port, per node. Playwright moves to 3001
// because Browserless holds 3000 on the same node (see the stack file).
const STORAGE: Record<string, number> = {
  postgres: 5432,
  ferretdb: 27017,
  directus: 8055,
  photoprism: 2342,
  n8n: 5678,
};
const COMPUTE: Record<string, number> = {
  litellm: 4000,
  metamcp: 4001,
  chroma: 8000,
  librechat: 3080,
  'open-webui': 8080,
  ollama: 11434,
  kasm: 6901,
  browserless: 3000,
  playwright: 3001,
};

const meshOf = (node: string) => example.plan.nodes[node]!.mesh_address;

describe('two VPS: storage and compute', () => {
  it('joins the nodes over a Tailscale tailnet', () => {
    expect(example.stack.mesh).toMatchObject({ provider: 'tailscale', cidr: '100.64.0.0/10' });
    expect(meshOf('storage')).not.toBe(meshOf('compute'));
  });

  it('places each service on the node the write-up puts it on, on its port', () => {
    for (const [services, node] of [
      [STORAGE, 'storage'],
      [COMPUTE, 'compute'],
    ] as const) {
      for (const [service, port] of Object.entries(services)) {
        expect(nodeOf(example.plan, service), service).toEqual([node]);
        expect(Object.values(example.stack.services[service]!.ports), service).toEqual([port]);
      }
    }
    expect(example.plan.placement).toHaveLength(
      Object.keys(STORAGE).length + Object.keys(COMPUTE).length,
    );
  });

  /** The extra hosts a container gets for services of other nodes (name → mesh address). */
  const remoteHosts = (service: string) => {
    const { runtime } = desiredOf(example.plan, service);
    return runtime.kind === 'container' ? runtime.remote_hosts : undefined;
  };

  it('points LibreChat at FerretDB by name, an extra host at storage’s mesh address', () => {
    const mongo = desiredOf(example.plan, 'librechat').env['MONGO_URI'];
    expect(mongo).toBe('mongodb://ferretdb:27017/LibreChat');
    expect(remoteHosts('librechat')).toMatchObject({ ferretdb: meshOf('storage') });
    expect(example.stack.services['librechat']?.env['MONGO_URI']).toContain('${ferretdb.address}');
  });

  it('points MetaMCP at PostgreSQL on storage, and storage’s workflows at LiteLLM on compute', () => {
    expect(desiredOf(example.plan, 'metamcp').env['POSTGRES_URL']).toBe(
      'postgres://postgres:${secret:POSTGRES_PASSWORD}@postgres:5432/salem',
    );
    expect(remoteHosts('metamcp')).toMatchObject({ postgres: meshOf('storage') });
    for (const service of ['n8n', 'directus']) {
      expect(desiredOf(example.plan, service).env['LITELLM_URL'], service).toBe(
        'http://litellm:4000/v1/chat/completions',
      );
      expect(remoteHosts(service), service).toMatchObject({ litellm: meshOf('compute') });
    }
    // Same-node containers reach each other by service name (a Docker network alias).
    expect(desiredOf(example.plan, 'ferretdb').env['FERRETDB_POSTGRESQL_URL']).toContain(
      '@postgres:5432/',
    );
  });

  it('opens PostgreSQL on storage to compute’s mesh address only', () => {
    const ruleset = example.plan.firewall['storage']!;
    const rules = rulesForPort(ruleset, 5432);
    expect(rules).toHaveLength(1);
    expect(rules[0]?.iifname).toBe('tailscale0');
    expect(rules[0]?.saddr).toEqual([meshOf('compute')]);
    expect(rulesForPort(ruleset, 27017).map((rule) => rule.saddr)).toEqual([[meshOf('compute')]]);
  });

  it('opens no service port on either node to the whole internet', () => {
    for (const [node, services] of [
      ['storage', STORAGE],
      ['compute', COMPUTE],
    ] as const) {
      const ports = new Set(Object.values(services));
      for (const rule of acceptRules(example.plan.firewall[node]!)) {
        if (!rule.ports.some((port) => ports.has(port))) continue;
        expect(rule.saddr, rule.line).toBeDefined();
      }
      // Nothing opens the ports that only same-node services use.
      const local = node === 'compute' ? [11434, 3000, 3001] : [];
      for (const port of local)
        expect(rulesForPort(example.plan.firewall[node]!, port), `${node}:${port}`).toEqual([]);
    }
  });

  it('lets compute’s tag reach storage’s PostgreSQL port in the Tailscale ACL', () => {
    const acl = example.plan.acl;
    expect(acl).not.toBeNull();
    const postgres = `${nodeTag('storage')}:5432`;
    const granting = acl!.acls.filter((rule) => rule.dst.includes(postgres));
    expect(granting.flatMap((rule) => rule.src)).toEqual([nodeTag('compute')]);
    const computeTest = acl!.tests.find((test) => test.src === nodeTag('compute'));
    expect(computeTest?.accept).toContain(postgres);
    // Storage's own tag is not granted compute's local-only ports.
    const storageTest = acl!.tests.find((test) => test.src === nodeTag('storage'));
    expect(storageTest?.deny).toEqual(expect.arrayContaining([`${nodeTag('compute')}:11434`]));
  });

  it('costs what the write-up’s two VPS cost', () => {
    expect(example.plan.cost.nodes).toEqual({
      storage: { monthly: 10.5, currency: 'USD' },
      compute: { monthly: 10.5, currency: 'USD' },
    });
    expect(example.plan.cost.total).toEqual({ USD: 21 });
  });

  it('backs up PostgreSQL, the media and Directus nightly at 2am to R2', () => {
    const { backups, services } = example.stack;
    expect(backups.targets['r2']?.repository).toMatch(/^s3:https:\/\//);
    expect(services['postgres']?.backup).toMatchObject({
      kind: 'postgres',
      schedule: '0 2 * * *',
      to: 'r2',
    });
    expect(backups.jobs['media']).toMatchObject({
      kind: 'files',
      paths: ['/data/media'],
      schedule: '0 2 * * *',
      to: 'r2',
    });
    expect(backups.jobs['directus-config']).toMatchObject({
      service: 'directus',
      schedule: '0 2 * * *',
      to: 'r2',
    });
    // Compute is stateless in the write-up: nothing there is backed up.
    const backedUp = [
      ...Object.values(backups.jobs).map((job) => job.service),
      ...Object.entries(services)
        .filter(([, spec]) => spec.backup)
        .map(([name]) => name),
    ];
    for (const service of backedUp) expect(Object.keys(STORAGE)).toContain(service);
  });
});
