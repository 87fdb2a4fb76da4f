// The segment policy of one node's native services, its nftables rendering, and the real
// `nft -c` parser's verdict on it (which resolves every cgroup path, so they must exist).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cgroup2Mount, removeCgroup } from '../../src/agent/process/cgroup.ts';
import { desiredState } from '../../src/plan/desired.ts';
import {
  localSegments,
  localSegmentsRuleset,
  segmentEnforcement,
  serviceCgroup,
} from '../../src/plan/local-segments.ts';
import { allocateMeshAddresses } from '../../src/plan/mesh-addresses.ts';
import { placeInstances } from '../../src/plan/placement.ts';
import { computeReachability } from '../../src/plan/reachability.ts';
import { parseStackText } from '../../src/spec/load.ts';
import type { Stack } from '../../src/spec/schema.ts';

function stackFrom(text: string): Stack {
  const result = parseStackText(text, 'flotilla.yml');
  if (!result.ok) throw new Error(result.diagnostics.map((d) => d.message).join('\n'));
  return result.stack;
}

const segmentsOf = (stack: Stack) =>
  localSegments(stack, placeInstances(stack), computeReachability(stack));

const ONE_NODE = `
name: seg
nodes:
  box: { address: 203.0.113.10, gateway: true }
  ops: { address: 203.0.113.11 }
networks: { data: {}, ops: {}, alone: {} }
services:
  db: { node: box, networks: [data], run: { command: [db], user: nobody }, ports: { main: 5432 } }
  api:
    node: box
    replicas: 2
    networks: [data]
    run: { command: [api], user: nobody }
    ports: { http: 3000 }
  spy: { node: box, networks: [ops], run: { command: [spy], user: nobody }, ports: { http: 4000 } }
  cache: { node: box, networks: [alone], image: redis, ports: { main: 6379 } }
  lonely: { node: box, networks: [alone], run: { command: [l] }, ports: { a: 7000, b: 7001 } }
  agent: { node: ops, networks: [ops], run: { command: [a], user: nobody } }
firewall:
  allow:
    - { from: [spy], to: lonely.b }
    - { from: [node:box], to: cache }
`;

describe('localSegments', () => {
  const segments = segmentsOf(stackFrom(ONE_NODE));

  it('guards every service port on the node, replicas and containers included', () => {
    expect(segments.box!.guarded).toEqual([3000, 3001, 4000, 5432, 6379, 7000, 7001]);
    expect(segments.ops!.guarded).toEqual([]);
  });

  it('lets each native service reach its own ports and exactly the ones granted to it or to its node', () => {
    expect(segments.box!.services).toEqual([
      // db and api share `data`; everyone on box may reach cache (node:box).
      { service: 'db', may: [3000, 3001, 5432, 6379] },
      { service: 'api', may: [3000, 3001, 5432, 6379] },
      // spy: its own port, lonely.b by an allow rule (not lonely.a), cache by node:box.
      { service: 'spy', may: [4000, 6379, 7001] },
      { service: 'lonely', may: [6379, 7000, 7001] },
    ]);
    expect(segments.ops!.services).toEqual([{ service: 'agent', may: [] }]);
  });

  it('says `all` for a service granted every port of the node, so the policy stays small', () => {
    const stack = stackFrom(`
name: flat
services:
  a: { run: { command: [a] }, ports: { main: 3000 } }
  b: { run: { command: [b] }, ports: { main: 3001 } }
`);
    expect(segmentsOf(stack).local!.services).toEqual([
      { service: 'a', may: 'all' },
      { service: 'b', may: 'all' },
    ]);
  });

  it('travels in the desired state, and each process instance names its cgroup', () => {
    const stack = stackFrom(ONE_NODE);
    const desired = desiredState(
      stack,
      placeInstances(stack),
      allocateMeshAddresses(stack),
      computeReachability(stack),
      { stackDir: '/srv', stateDir: '/var/lib/flotilla' },
    );
    expect(desired.box!.segments).toEqual(segments.box);
    const runtimes = desired.box!.instances.map((instance) => instance.runtime);
    expect(runtimes.map((runtime) => (runtime.kind === 'process' ? runtime.cgroup : null))).toEqual(
      [
        'flotilla/seg/box/db',
        'flotilla/seg/box/api',
        'flotilla/seg/box/api',
        'flotilla/seg/box/spy',
        null,
        'flotilla/seg/box/lonely',
      ],
    );
  });

  it('states plainly what is enforced and what is not', () => {
    const notes = segmentEnforcement(stackFrom(ONE_NODE));
    expect(notes).toContain(
      'not enforced for services running as root, which can leave their cgroup: lonely (set run.user)',
    );
    expect(notes.join('\n')).toContain(
      'containers on one node (cache): one Docker bridge per segment, nothing forwarded between segments',
    );
    expect(notes.join('\n')).toContain('per node: every process on a granted node');
  });
});

describe('localSegmentsRuleset', () => {
  const box = segmentsOf(stackFrom(ONE_NODE)).box!;

  it('matches each service by its cgroup, from where this machine mounts cgroup2', () => {
    const hybrid = localSegmentsRuleset(box, '/sys/fs/cgroup/unified');
    expect(hybrid).toContain(
      'socket cgroupv2 level 4 "unified/flotilla/seg/box/spy" th dport { 4000, 6379, 7001 } accept',
    );
    expect(hybrid).toContain('socket cgroupv2 level 4 "unified/flotilla/seg/box/spy" reject');
    expect(hybrid).toContain('socket cgroupv2 level 1 "unified/flotilla" reject');
    expect(localSegmentsRuleset(box)).toContain(
      'socket cgroupv2 level 4 "flotilla/seg/box/db" th dport { 3000, 3001, 5432, 6379 } accept',
    );
    // Only new connections to this node's service ports are looked at.
    expect(hybrid).toContain('oif != "lo" accept');
    expect(hybrid).toContain('th dport != { 3000, 3001, 4000, 5432, 6379, 7000, 7001 } accept');
  });

  it('a node without native services gets an empty chain', () => {
    const ruleset = localSegmentsRuleset(segmentsOf(stackFrom(ONE_NODE)).ops!);
    expect(ruleset).not.toContain('socket cgroupv2');
  });
});

const mount = cgroup2Mount();
describe.skipIf(process.getuid?.() !== 0 || mount === undefined)('nft -c', () => {
  const stack = stackFrom(
    ONE_NODE.replace('name: seg', `name: seg${randomBytes(3).toString('hex')}`),
  );
  const box = segmentsOf(stack).box!;
  const made: string[] = [];

  // Another test may have its own stack under flotilla/: only empty cgroups go.
  afterAll(() => {
    for (const cgroup of made.reverse()) removeCgroup(mount!, cgroup);
  });

  it('accepts the ruleset once the cgroups exist, and refuses it before', async () => {
    const nftCheck = (script: string) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = execFile('nft', ['-c', '-f', '-'], (error, _stdout, stderr) =>
          resolve({ code: error ? 1 : 0, stderr }),
        );
        child.stdin?.end(script);
      });
    const ruleset = localSegmentsRuleset(box, mount);
    const before = await nftCheck(ruleset);
    expect(before.code).toBe(1);
    expect(before.stderr).toContain('cgroupv2 path fails');

    for (const cgroup of [
      'flotilla',
      `flotilla/${stack.name}`,
      `flotilla/${stack.name}/box`,
      ...box.services.map(({ service }) => serviceCgroup(stack.name, 'box', service)),
    ]) {
      try {
        mkdirSync(path.join(mount!, cgroup));
        made.push(cgroup);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    expect(await nftCheck(ruleset)).toEqual({ code: 0, stderr: '' });
  });
});
