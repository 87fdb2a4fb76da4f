// examples/hybrid-managed-plus-vps-workers: only the managed platform's address ranges may
// reach Redis and the MinIO API; the workers find Redis and MinIO by interpolation.
import { beforeAll, describe, expect, it } from 'vitest';
import { computeReachability } from '../../src/plan/reachability.ts';
import { acceptRules, desiredOf, loadExample, type LoadedExample } from './load-example.ts';

let example: LoadedExample;

beforeAll(async () => {
  example = await loadExample('hybrid-managed-plus-vps-workers');
});

const PLATFORM = ['192.0.2.0/24', '198.51.100.0/24'];
const WORKERS = ['gen-worker', 'outbox-relay', 'capture-worker', 'session-sweeper'];

describe('hybrid managed platform + VPS workers', () => {
  it('runs Redis, MinIO and the four workers on the one VPS', () => {
    expect(Object.keys(example.plan.nodes)).toEqual(['vps']);
    expect(example.plan.placement.map((instance) => instance.service).sort()).toEqual(
      ['minio', 'redis', ...WORKERS].sort(),
    );
    expect(example.stack.services['redis']?.ports).toEqual({ main: 6379 });
    expect(example.stack.services['minio']?.ports).toEqual({ api: 9000, console: 9001 });
    expect(example.plan.cost.total).toEqual({ EUR: 7 });
  });

  it('grants the platform ranges Redis and the MinIO API, nothing else', () => {
    const fromOutside = computeReachability(example.stack).grants.filter(
      (grant) => grant.source.kind === 'cidr',
    );
    const byTarget = new Map<string, Set<string>>();
    for (const grant of fromOutside) {
      if (grant.source.kind !== 'cidr') continue;
      for (const port of grant.ports) {
        const key = `${grant.to}.${port}`;
        byTarget.set(key, (byTarget.get(key) ?? new Set()).add(grant.source.cidr));
      }
    }
    expect([...byTarget.keys()].sort()).toEqual(['minio.api', 'redis.main']);
    for (const cidrs of byTarget.values()) expect([...cidrs].sort()).toEqual(PLATFORM);
    // The plan's rendered grants say the same.
    const planned = example.plan.reachability.grants.filter((grant) =>
      PLATFORM.includes(grant.from),
    );
    expect(new Set(planned.map((grant) => `${grant.to}:${grant.ports.join(',')}`))).toEqual(
      new Set(['redis:main', 'minio:api']),
    );
  });

  it('opens 6379 and 9000 to the platform ranges only, and the console to nobody', () => {
    const ruleset = example.plan.firewall['vps']!;
    const rules = acceptRules(ruleset);
    for (const port of [6379, 9000]) {
      const opening = rules.filter((rule) => rule.ports.includes(port));
      expect(opening, String(port)).toHaveLength(1);
      expect(opening[0]?.saddr?.slice().sort(), String(port)).toEqual(PLATFORM);
      expect(opening[0]?.ports, String(port)).toEqual([port]);
    }
    expect(rules.filter((rule) => rule.ports.includes(9001))).toEqual([]);
    // The ranges appear in no other rule of the ruleset.
    const mentioning = ruleset
      .split('\n')
      .filter((line) => PLATFORM.some((cidr) => line.includes(cidr)))
      .map((line) => line.trim());
    expect(mentioning).toHaveLength(2);
    expect(mentioning.every((line) => /tcp dport (6379|9000) accept/.test(line))).toBe(true);
  });

  it('serves media through the gateway from the API port, not the console', () => {
    const route = example.plan.routes.find((entry) => entry.host === 'media.example.com');
    expect(route?.service).toBe('minio');
    expect(route?.port).toBe('api');
    expect(route?.upstreams.map((upstream) => upstream.dial)).toEqual(['127.0.0.1:9000']);
    expect(example.plan.routes.every((entry) => entry.port !== 'console')).toBe(true);
  });

  it.each(WORKERS)('%s connects to Redis by interpolation, its password a secret', (worker) => {
    expect(example.stack.services[worker]?.env['REDIS_URL']).toBe(
      'redis://:${secret:REDIS_PASSWORD}@${redis.address}',
    );
    const desired = desiredOf(example.plan, worker);
    // Containers on one node: the target's service name (a Docker network alias).
    expect(desired.env['REDIS_URL']).toBe('redis://:${secret:REDIS_PASSWORD}@redis:6379');
    expect(desired.secrets).toContain('REDIS_PASSWORD');
    expect(desired.secrets).toContain('DATABASE_URL');
    expect(desired.depends_on).toContain('redis');
  });

  it('gives the storage workers the MinIO API endpoint', () => {
    for (const worker of ['gen-worker', 'capture-worker']) {
      expect(desiredOf(example.plan, worker).env['S3_ENDPOINT']).toBe('http://minio:9000');
    }
  });

  it('keeps the Redis password out of the container’s command line', () => {
    const redis = desiredOf(example.plan, 'redis');
    expect(redis.runtime.kind).toBe('container');
    if (redis.runtime.kind !== 'container') return;
    expect((redis.runtime.command ?? []).join(' ')).not.toContain('secret:');
    expect(redis.env['REDIS_PASSWORD']).toBe('${secret:REDIS_PASSWORD}');
  });
});
