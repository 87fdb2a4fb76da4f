// examples/single-vps-pm2-caddy: three subdomains to three Node services, CORS on the logs
// API, PostgreSQL on this node only, and no environment shared between services.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CaddyRoute } from '../../src/plan/caddy-json.ts';
import { computeReachability } from '../../src/plan/reachability.ts';
import { references } from '../../src/spec/interpolation.ts';
import {
  acceptRules,
  desiredOf,
  loadEditedExample,
  loadExample,
  type LoadedExample,
} from './load-example.ts';

let example: LoadedExample;

beforeAll(async () => {
  example = await loadExample('single-vps-pm2-caddy');
});

const NODE_SERVICES = ['voice-pipeline', 'db-proxy', 'log-query-service', 'deepgram-proxy'];

describe('single VPS with PM2 and Caddy', () => {
  it('is one 5 USD gateway node', () => {
    expect(Object.keys(example.plan.nodes)).toEqual(['vps']);
    expect(example.plan.nodes['vps']?.gateway).toBe(true);
    expect(example.plan.cost.total).toEqual({ USD: 5 });
  });

  it('routes the three subdomains to the three Node services on loopback', () => {
    const routes = example.plan.routes.map((route) => ({
      host: route.host,
      service: route.service,
      dial: route.upstreams.map((upstream) => upstream.dial),
    }));
    expect(routes).toEqual([
      { host: 'db.example.com', service: 'db-proxy', dial: ['127.0.0.1:3000'] },
      { host: 'logs.example.com', service: 'log-query-service', dial: ['127.0.0.1:3001'] },
      { host: 'voice.example.com', service: 'voice-pipeline', dial: ['127.0.0.1:8080'] },
    ]);
  });

  it('answers CORS on the logs API, and only there', () => {
    const logs = example.plan.routes.find((route) => route.host === 'logs.example.com');
    expect(logs?.cors).toMatchObject({
      origins: ['*'],
      methods: ['GET', 'POST', 'OPTIONS'],
      headers: ['Authorization', 'Content-Type'],
    });
    for (const host of ['voice.example.com', 'db.example.com']) {
      expect(example.plan.routes.find((route) => route.host === host)?.cors, host).toBeUndefined();
    }
    // The gateway's config sets the headers for logs.example.com and for no other host.
    const hostRoutes = example.plan.caddy['vps']!.apps.http.servers['gateway']!.routes;
    const corsHosts = hostRoutes
      .filter((route: CaddyRoute) => JSON.stringify(route).includes('Access-Control-Allow-Origin'))
      .flatMap((route) => route.match?.flatMap((matcher) => matcher.host ?? []) ?? []);
    expect(corsHosts).toEqual(['logs.example.com']);
    const logsConfig = JSON.stringify(
      hostRoutes.find((route) => route.match?.[0]?.host?.includes('logs.example.com')),
    );
    expect(logsConfig).toContain('"Access-Control-Allow-Origin":["*"]');
    expect(logsConfig).toContain('"Access-Control-Allow-Methods":["GET, POST, OPTIONS"]');
    expect(logsConfig).toContain('"Access-Control-Allow-Headers":["Authorization, Content-Type"]');
  });

  it('never opens PostgreSQL beyond the node', () => {
    const ruleset = example.plan.firewall['vps']!;
    expect(acceptRules(ruleset).filter((rule) => rule.ports.includes(5432))).toEqual([]);
    expect(ruleset).not.toMatch(/\b5432\b/);
    // Same-node clients come in over loopback, which the ruleset accepts as a whole.
    expect(ruleset).toMatch(/^\s*iif lo accept/m);
    expect(example.plan.routes.filter((route) => route.service === 'postgres')).toEqual([]);
    const toPostgres = computeReachability(example.stack).grants.filter(
      (grant) => grant.to === 'postgres',
    );
    expect(toPostgres.every((grant) => grant.source.kind === 'service')).toBe(true);
    expect(
      toPostgres
        .map((grant) => (grant.source.kind === 'service' ? grant.source.service : ''))
        .sort(),
    ).toEqual(['db-proxy', 'log-query-service']);
    const postgres = desiredOf(example.plan, 'postgres');
    expect(postgres.runtime.kind === 'process' && postgres.runtime.command).toContain(
      'listen_addresses=127.0.0.1',
    );
  });

  it('runs the installed PostgreSQL through the example’s wrapper, as postgres, under ${data}', () => {
    const postgres = desiredOf(example.plan, 'postgres');
    expect(postgres.runtime.kind).toBe('process');
    if (postgres.runtime.kind !== 'process') return;
    // No major version in the path: the wrapper finds whichever one is installed.
    expect(postgres.runtime.command.slice(0, 2)).toEqual([
      './bin/initdb-then-postgres',
      path.join(postgres.data_dir, 'cluster'),
    ]);
    expect(postgres.runtime.command.join(' ')).not.toMatch(/\/usr\/lib\/postgresql/);
    expect(postgres.runtime.user).toBe('postgres');
  });

  it('refuses an outside network allowed into PostgreSQL', () => {
    const result = loadEditedExample('single-vps-pm2-caddy', (document) => {
      document['firewall'] = { allow: [{ from: ['198.51.100.7'], to: 'postgres' }] };
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.diagnostics.map((d) => d.message).join('\n')).toMatch(
      /only in internal networks/,
    );
  });

  it('gives each service its own environment and nothing of another’s', () => {
    for (const service of NODE_SERVICES) {
      const declared = example.stack.services[service]!;
      const desired = desiredOf(example.plan, service);
      expect(Object.keys(desired.env).sort(), service).toEqual(Object.keys(declared.env).sort());
      const ownSecrets = new Set(
        Object.values(declared.env).flatMap((value) =>
          references(String(value)).flatMap((ref) => (ref.kind === 'secret' ? [ref.name] : [])),
        ),
      );
      expect(desired.secrets, service).toEqual([...ownSecrets].sort());
      expect(desired.runtime.kind).toBe('process');
      if (desired.runtime.kind !== 'process') continue;
      expect(desired.runtime.cwd).toBe(path.join(example.dir, service));
      expect(desired.runtime.env_files, service).toEqual([path.join(example.dir, service, '.env')]);
    }
    // Spot checks across pairs: one service's credentials are in no other's state.
    const onlyIn: Record<string, string> = {
      LOG_QUERY_DB_PASSWORD: 'log-query-service',
      LOG_QUERY_ADMIN_TOKEN: 'log-query-service',
      CMB_USER_DB_PASSWORD: 'db-proxy',
      TWILIO_AUTH_TOKEN: 'voice-pipeline',
    };
    for (const service of [...NODE_SERVICES, 'postgres']) {
      const state = JSON.stringify(desiredOf(example.plan, service));
      for (const [secret, owner] of Object.entries(onlyIn)) {
        if (owner === service) expect(state, service).toContain(secret);
        else expect(state, `${secret} in ${service}`).not.toContain(secret);
      }
    }
  });

  it('ships stand-in .env files that share no variable', () => {
    const seen = new Map<string, string>();
    for (const service of NODE_SERVICES) {
      const text = readFileSync(path.join(example.dir, service, '.env'), 'utf8');
      const keys = text
        .split('\n')
        .filter((line) => /^[A-Za-z_]\w*=/.test(line))
        .map((line) => line.slice(0, line.indexOf('=')));
      expect(keys.length, service).toBeGreaterThan(0);
      for (const key of keys) {
        expect(seen.get(key), `${key} in ${service}`).toBeUndefined();
        expect(Object.keys(example.stack.services[service]!.env), key).not.toContain(key);
        seen.set(key, service);
      }
      expect(text).not.toMatch(/PASSWORD|TOKEN|SECRET|API_KEY/);
    }
  });

  it('backs up the database and the per-service .env files', () => {
    const { backups, services } = example.stack;
    expect(services['postgres']?.backup).toMatchObject({
      kind: 'postgres',
      database: 'callmeback',
      to: 'local',
    });
    const envFiles = backups.jobs['env-files'];
    expect(envFiles?.kind).toBe('files');
    expect(envFiles?.paths?.slice().sort()).toEqual(
      NODE_SERVICES.map((service) => `${service}/.env`).sort(),
    );
  });
});
