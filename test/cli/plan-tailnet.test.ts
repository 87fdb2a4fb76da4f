// `plan` of a mesh.provider tailscale stack takes the nodes' addresses from the tailnet.
// No tailnet runs here: these tests feed recorded `tailscale status --json` output.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/plan.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';

const STACK = path.resolve('test/mesh/fixtures/tailnet-stack.yml');
const RECORDED = path.resolve('test/mesh/fixtures/tailscale-status.json');
const env = { FLOTILLA_STATE_DIR: '/nonexistent/flotilla-plan-tailnet' };

describe('plan with mesh.provider tailscale (recorded tailscale status, no tailnet)', () => {
  it('uses the tailnet addresses for placement, discovery, routes and the firewall', async () => {
    const result = await flotilla(
      ['plan', '-f', STACK, '--json', '--tailscale-status', RECORDED],
      env,
    );
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout) as Plan;
    expect(plan.nodes.storage!.mesh_address).toBe('100.101.12.7');
    expect(plan.nodes.compute!.mesh_address).toBe('100.88.41.3');
    expect(plan.desired.compute!.instances[0]!.env.DB).toBe('100.101.12.7:5432');
    expect(plan.firewall.storage).toContain('ip saddr 100.88.41.3 tcp dport 5432 accept');
    // A node with no device gets an address from mesh.cidr, and a note says how to fix it.
    expect(plan.nodes.edge!.mesh_address).toMatch(/^100\.64\./);
    expect(result.stderr).toMatch(
      /no tailnet device for node edge: run `tailscale up --hostname edge`/,
    );
  });

  it('rejects a status file that is not tailscale status output, naming it', async () => {
    const result = await flotilla(['plan', '-f', STACK, '--tailscale-status', STACK], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/tailnet-stack\.yml is not `tailscale status --json` output/);
  });

  it('plans without a tailnet, and says where the addresses came from', async () => {
    const result = await flotilla(['plan', '-f', STACK, '--json'], {
      ...env,
      PATH: '/nonexistent',
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /note: mesh addresses come from mesh.cidr, not the tailnet: tailscale not found/,
    );
  });
});
