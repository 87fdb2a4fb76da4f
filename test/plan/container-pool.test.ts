// A node's container pool: plan takes each segment's /24 from it (into the desired state the
// agent makes Docker networks from), and a pool that could not work is refused with the
// place to fix and a hint: not private, smaller than a /24, too small for the node's
// segments, or covering the mesh, an allowed client block, a node's address or docker0.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ContainerPoolError, containerPoolFindings } from '../../src/plan/container-pool.ts';
import { desiredState } from '../../src/plan/desired.ts';
import { localSegments } from '../../src/plan/local-segments.ts';
import { allocateMeshAddresses } from '../../src/plan/mesh-addresses.ts';
import { placeInstances } from '../../src/plan/placement.ts';
import { computeReachability } from '../../src/plan/reachability.ts';
import { cidrContains, parseCidr, parseIPv4 } from '../../src/spec/formats.ts';
import { parseStackText } from '../../src/spec/load.ts';
import { stackSchema, type Stack } from '../../src/spec/schema.ts';
import { parseSource, pinFinding } from '../../src/spec/source.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';

/** A stack file whose node `vps` runs four image services in four segments. */
function stackFile(node: string, extra = ''): string {
  return `name: shop
nodes:
  vps:
    address: 203.0.113.10
    gateway: true
${node}
networks:
  front: { egress: true }
  back: {}
  data: { internal: true }
services:
  web: { node: vps, image: web:1, ports: { http: 8080 }, networks: [front, back] }
  api: { node: vps, image: api:1, ports: { http: 3000 }, networks: [back] }
  db: { node: vps, image: postgres:16, ports: { main: 5432 }, networks: [data] }
  job: { node: vps, image: job:1 }
${extra}`;
}

/** The stack as the schema reads it, before the whole-stack checks. */
function parsed(text: string): Stack {
  const { value } = parseSource(text, 'flotilla.yml');
  return stackSchema.parse(value);
}

/** The pool findings of `text`, pinned to the stack file as a user sees them. */
function poolErrors(text: string): string[] {
  const { source } = parseSource(text, 'flotilla.yml');
  return containerPoolFindings(parsed(text)).map((finding) => {
    const pinned = pinFinding(source, finding);
    return `${pinned.line}:${pinned.col} ${pinned.message} (hint: ${pinned.hint})`;
  });
}

function subnetsOf(stack: Stack): string[] {
  const segments = localSegments(stack, placeInstances(stack), computeReachability(stack));
  return segments.vps!.containers!.map((segment) => segment.subnet);
}

const inside = (pool: string, subnet: string) =>
  cidrContains(parseCidr(pool)!, parseIPv4(subnet.split('/')[0]!)!);

describe('the container pool plan takes subnets from', () => {
  it('is 10.213.0.0/16 unless the node names one', () => {
    const subnets = subnetsOf(parsed(stackFile('')));
    expect(subnets).toHaveLength(4);
    for (const subnet of subnets) expect(inside('10.213.0.0/16', subnet)).toBe(true);
  });

  it("is the node's container_pool: every segment a distinct /24 of it, in the desired state too", () => {
    const stack = parsed(stackFile('    container_pool: 192.168.64.0/22'));
    const subnets = subnetsOf(stack);
    expect(new Set(subnets).size).toBe(4);
    for (const subnet of subnets) {
      expect(subnet).toMatch(/\/24$/);
      expect(inside('192.168.64.0/22', subnet)).toBe(true);
    }
    const desired = desiredState(
      stack,
      placeInstances(stack),
      allocateMeshAddresses(stack),
      computeReachability(stack),
      { stackDir: '/srv/shop', stateDir: '/var/lib/flotilla' },
    );
    const web = desired.vps!.instances.find((instance) => instance.service === 'web')!;
    expect(web.runtime.kind === 'container' && web.runtime.networks.map((n) => n.subnet)).toEqual(
      ['front', 'back'].map(
        (segment) =>
          localSegments(
            stack,
            placeInstances(stack),
            computeReachability(stack),
          ).vps!.containers!.find((local) => local.segment === segment)!.subnet,
      ),
    );
    expect(containerPoolFindings(stack)).toEqual([]);
  });

  it('skips the /24s of the default pool that the mesh covers', () => {
    const stack = parsed(stackFile('', 'mesh: { cidr: 10.213.0.0/17 }'));
    for (const subnet of subnetsOf(stack)) expect(inside('10.213.128.0/17', subnet)).toBe(true);
    expect(containerPoolFindings(stack)).toEqual([]);
  });

  it('is refused by plan too (validation did not run): too small, or covering the mesh', () => {
    const small = parsed(stackFile('    container_pool: 10.9.0.0/23'));
    expect(() => subnetsOf(small)).toThrow(ContainerPoolError);
    expect(() => subnetsOf(small)).toThrow(/container pool 10\.9\.0\.0\/23 has room for 2/);
    const meshy = parsed(
      stackFile('    container_pool: 10.9.0.0/16', 'mesh: { cidr: 10.9.0.0/24 }'),
    );
    expect(() => subnetsOf(meshy)).toThrow(/container pool 10\.9\.0\.0\/16 overlaps mesh\.cidr/);
  });
});

describe('a container pool that cannot work', () => {
  it('is refused by the schema when public or smaller than a /24, at its line and column', () => {
    for (const [pool, message] of [
      [
        '203.0.113.0/24',
        /is not a private block.*10\.0\.0\.0\/8, 172\.16\.0\.0\/12 or 192\.168\.0\.0\/16/,
      ],
      ['10.1.2.0/28', /smaller than one \/24.*write e\.g\. 10\.1\.0\.0\/16/],
      ['10.1.2.3/16', /host bits are set: the network is 10\.1\.0\.0\/16/],
      ['011.0.0.0/16', /octal/],
    ] as const) {
      const result = parseStackText(stackFile(`    container_pool: ${pool}`), 'flotilla.yml');
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.diagnostics).toHaveLength(1);
      expect(result.diagnostics[0]).toMatchObject({
        line: 6,
        col: 21,
        path: ['nodes', 'vps', 'container_pool'],
        message: expect.stringMatching(message),
      });
    }
  });

  it('is refused when too small for the segments of its node, with the size that fits', () => {
    expect(poolErrors(stackFile('    container_pool: 10.9.0.0/23'))).toEqual([
      "6:21 node `vps`'s containers are in 4 segments, and container pool 10.9.0.0/23 has room for 2 (each segment takes a /24) (hint: use a larger block, e.g. a /22)",
    ]);
  });

  it('is refused when it covers the mesh, a node, an allowed client block or docker0', () => {
    const text = stackFile(
      '    container_pool: 172.16.0.0/12',
      `mesh: { cidr: 172.20.0.0/16 }
firewall:
  allow:
    - { from: [172.31.5.0/24], to: api }
`,
    ).replace('address: 203.0.113.10', 'address: 172.30.0.4');
    const errors = poolErrors(text);
    expect(errors).toHaveLength(4);
    for (const [what, why] of [
      ['mesh.cidr 172.20.0.0/16', 'the nodes inside it would be unreachable'],
      ["node `vps`'s address 172.30.0.4", 'traffic for that node to a container bridge'],
      ["firewall.allow[0]'s source 172.31.5.0/24", 'would get no answer'],
      ["Docker's default bridge (docker0, 172.17.0.0/16)", 'Docker refuses a network'],
    ] as const)
      expect(errors).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^6:21 container pool 172\\.16\\.0\\.0/12 overlaps ${what.replace(/[.()[\]]/g, '\\$&')}: .*${why}.*\\(hint: choose a private block that covers none of them, e\\.g\\. 10\\.213\\.0\\.0/16\\)$`,
          ),
        ),
      );
  });

  it('leaves the default pool alone unless its node cannot fit its segments there', () => {
    const allowAll = `firewall:\n  allow:\n    - { from: [10.0.0.0/8], to: api }\n`;
    // Every /24 of 10.213.0.0/16 is an allowed client's: name a pool, at the node.
    expect(poolErrors(stackFile('', allowAll))).toEqual([
      expect.stringMatching(
        /^4:5 node `vps`'s containers are in 4 segments, and only 0 \/24s of the default container pool 10\.213\.0\.0\/16 cover none of mesh\.cidr, the nodes' addresses, firewall\.allow's blocks and docker0 \(hint: set `container_pool` on node `vps` to a free private block, e\.g\. 172\.16\.0\.0\/16\)$/,
      ),
    ]);
    // No containers on the node: the default pool is never used.
    const natives = stackFile('', allowAll).replace(
      /image: [^,}\s]+/g,
      'run: { command: [sleep, "1"] }',
    );
    expect(poolErrors(natives)).toEqual([]);
  });

  it('is reported by `flotilla validate` at its line and column, and the file is invalid', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'flotilla-pool-'));
    try {
      const file = path.join(dir, 'flotilla.yml');
      await writeFile(file, stackFile('    container_pool: 10.9.0.0/23'));
      const result = await flotilla(['validate', '-f', file]);
      expect(result.stderr).toContain('flotilla.yml:6:21');
      expect(result.stderr).toContain('container pool 10.9.0.0/23 has room for 2');
      expect(result.stderr).toContain('hint: use a larger block, e.g. a /22');
      expect(result.code).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
