// The check that Docker does not manage the node's firewall, against the real nft and
// iptables in a network namespace of its own: Docker's chains as iptables-nft makes them, as
// legacy iptables makes them, none at all, and a namespace whose ruleset cannot be read.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  dockerChains,
  engineFirewallProblem,
} from '../../../src/agent/runtime/container/engine-firewall-check.ts';

const run = promisify(execFile);

describe.skipIf(process.getuid?.() !== 0)('engine firewall check (real nft, a netns)', () => {
  let netns = '';
  const inNetns = (argv: string[]) => run('ip', ['netns', 'exec', netns, ...argv]);

  beforeEach(async () => {
    netns = `flt-fwcheck-${randomBytes(3).toString('hex')}`;
    await run('ip', ['netns', 'add', netns]);
  });
  afterEach(async () => {
    // Its tables, nft's and legacy ones, go with it.
    await run('ip', ['netns', 'del', netns]);
  });

  it("passes a ruleset without Docker's chains, Flotilla's own tables included", async () => {
    await inNetns(['nft', 'add', 'table', 'inet', 'flotilla']);
    await inNetns(['nft', 'add', 'chain', 'inet', 'flotilla', 'input']);
    expect(await dockerChains(netns)).toEqual([]);
    expect(await engineFirewallProblem(netns)).toBeUndefined();
  });

  it('finds the chains a dockerd with iptables makes (iptables-nft), and says how to stop it', async () => {
    await inNetns(['iptables-nft', '-t', 'nat', '-N', 'DOCKER']);
    await inNetns(['iptables-nft', '-N', 'DOCKER-USER']);
    await inNetns(['iptables-nft', '-N', 'DOCKER-ISOLATION-STAGE-1']);
    await inNetns(['iptables-nft', '-N', 'DOCKERISH']);
    expect((await dockerChains(netns)).sort()).toEqual([
      'ip filter DOCKER-ISOLATION-STAGE-1',
      'ip filter DOCKER-USER',
      'ip nat DOCKER',
    ]);
    const problem = await engineFirewallProblem(netns);
    expect(problem).toMatch(/^the Docker Engine manages this node's firewall/);
    expect(problem).toMatch(/past Flotilla's firewall, so no container is started/);
    expect(problem).toMatch(
      /set "iptables": false .* in \/etc\/docker\/daemon\.json and restart Docker/,
    );
  });

  it('finds them in legacy iptables too, which nft does not show', async () => {
    await inNetns(['iptables-legacy', '-N', 'DOCKER-USER']);
    expect(await dockerChains(netns)).toEqual(['ip filter DOCKER-USER (legacy)']);
  });

  it('refuses when the ruleset cannot be read, and says why', async () => {
    const problem = await engineFirewallProblem(`${netns}-missing`);
    expect(problem).toMatch(
      /^cannot read this node's firewall to check that Docker does not manage it/,
    );
    expect(problem).toMatch(/no container is started/);
  });
});
