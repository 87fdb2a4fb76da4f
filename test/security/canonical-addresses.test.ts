// Issue 10, item 5: `allow.from: ["010.0.0.1"]` validated, and plan wrote `ip saddr
// 010.0.0.1`, which nft reads as octal: 8.0.0.1, another host. The attack here: the ruleset
// nft would have been given, applied in a private network namespace, lets the wrong host in
// and keeps the intended one out. The stack file that asks for it is refused with the
// address to write, and plan never writes a non-canonical address, even for a stack that
// skipped validation.
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firewallRuleset } from '../../src/plan/firewall.ts';
import { allocateMeshAddresses } from '../../src/plan/mesh-addresses.ts';
import { placeInstances } from '../../src/plan/placement.ts';
import { computeReachability } from '../../src/plan/reachability.ts';
import { tailscaleAcl } from '../../src/plan/tailscale-acl.ts';
import { parseStackText } from '../../src/spec/load.ts';
import { stackSchema, type Stack } from '../../src/spec/schema.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';
import { PROBER, startListener } from '../plan/netns-scripts.ts';

const run = promisify(execFile);

// Documentation addresses (RFC 5737), so the probes below stay inside the namespaces: the
// operator means 192.0.2.10; nft reads 192.0.2.010 as 192.0.2.8.
const MEANT = '192.0.2.10';
const WRITTEN = '192.0.2.010';
const OCTAL = '192.0.2.8';
const NODE_ADDRESS = '192.0.2.1';
const DB = 5432;

const stackText = (from: string) => `
name: octal
nodes:
  n: { address: ${NODE_ADDRESS} }
services:
  db: { node: n, run: { command: [db] }, ports: { main: ${DB} } }
firewall:
  allow: [{ from: ["${from}"], to: db }]
`;

function rulesetOf(stack: Stack): string {
  return firewallRuleset({
    stack,
    node: 'n',
    instances: placeInstances(stack),
    meshAddresses: allocateMeshAddresses(stack),
    reachability: computeReachability(stack),
  });
}

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'flotilla-octal-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('non-canonical addresses in the stack file', () => {
  it('validate refuses 010.0.0.1 in every address field, at its line and column, with the address to write', async () => {
    const file = path.join(scratch, 'flotilla.yml');
    await writeFile(
      file,
      [
        'name: octal',
        'mesh: { cidr: 100.096.0.0/16 }',
        'nodes:',
        '  n: { address: 010.0.0.1, mesh_address: 100.96.0.010 }',
        'services:',
        '  db: { node: n, run: { command: [db] }, ports: { main: 5432 } }',
        '',
      ].join('\n'),
    );
    const fields = await flotilla(['validate', '-f', file]);
    expect(fields.code).toBe(1);
    expect(fields.stderr + fields.stdout).toContain(
      `${file}:4:17 error \`nodes.n.address\`: bad address "010.0.0.1": nft and the kernel read a leading 0 as octal, so 010.0.0.1 is 8.0.0.1 to them: write 10.0.0.1`,
    );
    expect(fields.stderr + fields.stdout).toContain(
      `${file}:4:42 error \`nodes.n.mesh_address\`: bad address "100.96.0.010"`,
    );
    expect(fields.stderr + fields.stdout).toContain('write 100.96.0.10');
    expect(fields.stderr + fields.stdout).toContain(
      `${file}:2:15 error \`mesh.cidr\`: bad CIDR "100.096.0.0/16": leading zeros are not allowed: write 100.96.0.0/16`,
    );

    await writeFile(file, stackText('010.0.0.1'));
    const allow = await flotilla(['validate', '-f', file]);
    expect(allow.code).toBe(1);
    expect(allow.stderr + allow.stdout).toContain(
      `${file}:8:20 error bad CIDR "010.0.0.1": nft and the kernel read a leading 0 as octal, so 010.0.0.1 is 8.0.0.1 to them: write 10.0.0.1`,
    );
    expect(allow.stderr + allow.stdout).not.toContain('internal error');
  });

  it('plan never writes a non-canonical address, even for a stack that skipped validation', () => {
    // The schema alone does not look inside allow.from: only validation refuses the entry.
    const unvalidated = stackSchema.parse(documentWith(WRITTEN));
    const ruleset = rulesetOf(unvalidated);
    expect(ruleset).not.toContain(WRITTEN);
    expect(ruleset).not.toContain(OCTAL);
    expect(ruleset).not.toMatch(/ip saddr [^\n]*\b0\d/);
    const acl = tailscaleAcl({
      stack: { ...unvalidated, mesh: { ...unvalidated.mesh, provider: 'tailscale' } },
      instances: placeInstances(unvalidated),
      reachability: computeReachability(unvalidated),
    });
    expect(JSON.stringify(acl)).not.toContain(WRITTEN);

    // Peers' mesh addresses are written too: a non-canonical one stops the rendering.
    const twoNodes = stackSchema.parse({
      ...documentWith(MEANT),
      nodes: { n: { address: NODE_ADDRESS }, m: { address: '192.0.2.2' } },
      services: {
        db: { node: 'n', run: { command: ['db'] }, ports: { main: DB } },
        api: { node: 'm', run: { command: ['api'] } },
      },
    });
    expect(() =>
      firewallRuleset({
        stack: twoNodes,
        node: 'n',
        instances: placeInstances(twoNodes),
        meshAddresses: { n: '100.96.0.1', m: '100.96.0.010' },
        reachability: computeReachability(twoNodes),
      }),
    ).toThrow('not a canonical IPv4 address or network: "100.96.0.010"');
  });
});

/** The stack document as YAML gives it, for the schema without validation. */
function documentWith(from: string) {
  return {
    name: 'octal',
    nodes: { n: { address: NODE_ADDRESS } },
    services: { db: { node: 'n', run: { command: ['db'] }, ports: { main: DB } } },
    firewall: { allow: [{ from: [from], to: 'db' }] },
  };
}

// A node namespace (the firewall, a listener on the db port) and a client namespace holding
// both the intended source and the one nft reads, joined by a veth pair.
describe.skipIf(process.getuid?.() !== 0)(
  'the octal ruleset, applied in a network namespace',
  () => {
    const id = randomBytes(3).toString('hex');
    const nodeNs = `flotilla-octal-${id}-n`;
    const clientNs = `flotilla-octal-${id}-c`;
    const namespaces: string[] = [];
    let listener: ChildProcess | undefined;
    const ns = (name: string, ...argv: string[]) => run('ip', ['netns', 'exec', name, ...argv]);

    beforeAll(async () => {
      for (const name of [nodeNs, clientNs]) {
        await run('ip', ['netns', 'add', name]);
        namespaces.push(name);
        await ns(name, 'ip', 'link', 'set', 'lo', 'up');
      }
      const [nodeEnd, clientEnd] = [`oct${id}n`, `oct${id}c`];
      await run('ip', [
        'link',
        'add',
        nodeEnd,
        'netns',
        nodeNs,
        'type',
        'veth',
        'peer',
        'name',
        clientEnd,
        'netns',
        clientNs,
      ]);
      await ns(nodeNs, 'ip', 'addr', 'add', `${NODE_ADDRESS}/24`, 'dev', nodeEnd);
      for (const address of [MEANT, OCTAL])
        await ns(clientNs, 'ip', 'addr', 'add', `${address}/24`, 'dev', clientEnd);
      await ns(nodeNs, 'ip', 'link', 'set', nodeEnd, 'up');
      await ns(clientNs, 'ip', 'link', 'set', clientEnd, 'up');
      listener = await startListener(nodeNs, [DB]);
    });

    afterAll(async () => {
      if (listener?.pid !== undefined && listener.exitCode === null) listener.kill('SIGKILL');
      for (const name of namespaces) await run('ip', ['netns', 'del', name]).catch(() => undefined);
    });

    const apply = async (ruleset: string) => {
      const file = path.join(scratch, `ruleset-${randomBytes(3).toString('hex')}.nft`);
      await writeFile(file, ruleset);
      await ns(nodeNs, 'nft', '-f', file);
    };
    const probe = async (): Promise<Record<string, string>> => {
      const probes = [MEANT, OCTAL].map((from) => ({
        name: from,
        host: NODE_ADDRESS,
        port: DB,
        from,
      }));
      return JSON.parse(
        (await ns(clientNs, process.execPath, '-e', PROBER, JSON.stringify(probes))).stdout,
      );
    };

    it("the form plan used to write lets 192.0.2.8 in and keeps 192.0.2.10 out; plan's own does the opposite", async () => {
      const canonical = rulesetOf(stackFromText(stackText(MEANT)));
      expect(canonical).toContain(`ip saddr ${MEANT}/32 tcp dport ${DB} accept`);
      // What plan rendered for `from: ["192.0.2.010"]` before this fix: the entry as written.
      const asWritten = canonical.replace(`ip saddr ${MEANT}/32`, `ip saddr ${WRITTEN}/32`);
      expect(asWritten).toContain(`ip saddr ${WRITTEN}/32`);

      await apply(asWritten);
      const { stdout: listed } = await ns(nodeNs, 'nft', 'list', 'table', 'inet', 'flotilla');
      expect(listed).toContain(`ip saddr ${OCTAL} tcp dport ${DB} accept`);
      expect(await probe()).toEqual({ [MEANT]: 'dropped', [OCTAL]: 'open' });

      await apply(canonical);
      expect(await probe()).toEqual({ [MEANT]: 'open', [OCTAL]: 'dropped' });
    });
  },
);

function stackFromText(text: string): Stack {
  const result = parseStackText(text, 'flotilla.yml');
  if (!result.ok) throw new Error(result.diagnostics.map((d) => d.message).join('\n'));
  return result.stack;
}
