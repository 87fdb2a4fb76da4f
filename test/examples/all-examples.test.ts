// Every example stack in examples/ loads, validates and plans: a schema change that breaks
// one of them fails here, not in front of a user copying it.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planStack } from '../../src/plan/plan.ts';
import { loadStackFile } from '../../src/spec/load.ts';
import { describeFailure, EXAMPLES_DIR } from './load-example.ts';

const REFERENCE_EXAMPLES = [
  'hub-spoke-personal-cloud',
  'hybrid-managed-plus-vps-workers',
  'segmented-ai-stack',
  'single-vps-pm2-caddy',
  'two-vps-storage-compute',
];

const examples = readdirSync(EXAMPLES_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .filter((name) => existsSync(path.join(EXAMPLES_DIR, name, 'flotilla.yml')))
  .sort();

describe('examples', () => {
  it('has one stack per reference write-up', () => {
    expect(examples).toEqual(expect.arrayContaining(REFERENCE_EXAMPLES));
  });

  it.each(examples)('%s validates and plans', async (name) => {
    const dir = path.join(EXAMPLES_DIR, name);
    const result = await loadStackFile(path.join(dir, 'flotilla.yml'));
    expect(result.ok, describeFailure(result)).toBe(true);
    if (!result.ok) return;
    const plan = planStack(result.stack, { stackDir: dir, stateDir: path.join(dir, '.flotilla') });
    expect(plan.placement.length).toBeGreaterThan(0);
    // Every service is placed, and every route has somewhere to go.
    expect(new Set(plan.placement.map((instance) => instance.service))).toEqual(
      new Set(Object.keys(result.stack.services)),
    );
    for (const route of plan.routes) expect(route.upstreams.length).toBeGreaterThan(0);
  });

  it.each(REFERENCE_EXAMPLES)('%s names secrets as references, never as values', async (name) => {
    const result = await loadStackFile(path.join(EXAMPLES_DIR, name, 'flotilla.yml'));
    if (!result.ok) throw new Error(describeFailure(result));
    const SECRETISH =
      /(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|MASTER_KEY|ENCRYPTION_KEY|CREDS_|_PW$|^PW$)/;
    for (const [service, spec] of Object.entries(result.stack.services)) {
      for (const [key, value] of Object.entries(spec.env)) {
        if (!SECRETISH.test(key)) continue;
        expect(String(value), `${service}.env.${key}`).toMatch(
          /\$\{secret:[A-Za-z_][A-Za-z0-9_]*\}/,
        );
      }
    }
    for (const [target, spec] of Object.entries(result.stack.backups.targets)) {
      expect(spec.password, `backups.targets.${target}.password`).toMatch(/^\$\{secret:\w+\}$/);
    }
  });
});
