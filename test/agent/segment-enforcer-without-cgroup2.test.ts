// A node without cgroup2 (cgroup v1 only; or, as here, a process started by `ip netns exec`,
// which mounts a fresh /sys and so hides the cgroup2 mount) cannot put native services in
// segments, but its containers' chains need no cgroup: the SegmentEnforcer must still load
// them (masquerade to the mesh, no forwarding between segments), or containers reach no
// other node and nothing keeps their segments apart. Found by the examples' lab tests.
// Runs the enforcer in a private network namespace, with the real nft. Needs root.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localSegmentsTable, type LocalSegments } from '../../src/plan/local-segments.ts';

const run = promisify(execFile);
const id = randomBytes(3).toString('hex');
const NETNS = `flotilla-segv1-${id}`;
const STACK = `segv${id}`;

const segments: LocalSegments = {
  stack: STACK,
  node: 'one',
  services: [{ service: 'worker', may: [] }],
  guarded: [5432],
  containers: [{ segment: 'data', subnet: '10.251.7.0/24', egress: false, native: [] }],
  mesh_interface: 'flo-one',
};

const src = (file: string) => JSON.stringify(pathToFileURL(path.resolve('src', file)).href);

/** The agent's part: apply, list the table, remove, list again; one JSON line. */
const DRIVER = `
import { execFileSync } from 'node:child_process';
import { SegmentEnforcer } from ${src('agent/segment-enforcer.ts')};
const segments = ${JSON.stringify(segments)};
const list = () => {
  try {
    return execFileSync('nft', ['list', 'table', 'inet', ${JSON.stringify(localSegmentsTable(STACK))}], { encoding: 'utf8', stdio: 'pipe' });
  } catch {
    return 'no table';
  }
};
const enforcer = new SegmentEnforcer();
await enforcer.apply(segments);
const applied = list();
const cgroup = enforcer.cgroupFor('flotilla/${STACK}/one/worker') ?? null;
await enforcer.remove(segments);
console.log('RESULT ' + JSON.stringify({ unavailable: enforcer.unavailable, applied, cgroup, removed: list() }));
`;

describe.skipIf(process.getuid?.() !== 0)('segments on a node without cgroup2', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-segv1-'));
    await run('ip', ['netns', 'add', NETNS]);
  });

  afterAll(async () => {
    await run('ip', ['netns', 'del', NETNS]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it("loads the containers' chains without the native services' rules, and removes them", async () => {
    await writeFile(path.join(dir, 'driver.mts'), DRIVER);
    const { stdout } = await run(
      'ip',
      ['netns', 'exec', NETNS, process.execPath, '--import', 'tsx', path.join(dir, 'driver.mts')],
      { timeout: 30_000 },
    );
    const line = stdout.split('\n').find((text) => text.startsWith('RESULT '));
    const result = JSON.parse(line!.slice('RESULT '.length)) as Record<string, string | null>;
    expect(result['unavailable']).toBe('cgroup2 is not mounted (see /proc/self/mountinfo)');
    // Native services start in no cgroup, and the table names none.
    expect(result['cgroup']).toBeNull();
    expect(result['applied']).not.toMatch(/cgroupv2/);
    expect(result['applied']).toMatch(/oifname "flo-one" masquerade/);
    expect(result['applied']).toMatch(/into a segment from another, or from outside the node/);
    expect(result['removed']).toBe('no table');
  });
});
