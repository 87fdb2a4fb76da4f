// The lab with real network namespaces (needs root): up, reachability, exec, crash-safe down.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flotilla } from '../helpers/flotilla-cli.ts';
import { labDownState, listNamespaces, planLab, type LabState } from '../../src/lab/lab.ts';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

describe('planLab', () => {
  it('names every link uniquely within 15 characters, for any lab name', () => {
    const a = planLab('a-rather-long-lab-name-for-tests', 50);
    const b = planLab('another', 50);
    const links = [a, b].flatMap((state) =>
      state.resources.filter((resource) => resource.kind === 'link').map((r) => r.name),
    );
    expect(new Set(links).size).toBe(links.length);
    for (const link of links) expect(link.length).toBeLessThanOrEqual(15);
    expect(a.nodes[49]?.address).toBe('203.0.113.60');
    expect(a.nodes[0]).toMatchObject({
      name: 'node1',
      namespace: 'flotilla-a-rather-long-lab-name-for-tests-node1',
      address: '203.0.113.11',
    });
  });

  it('rejects bad names and node counts clearly', () => {
    expect(() => planLab('Bad Name', 2)).toThrow(/invalid lab name/);
    expect(() => planLab('ok', 0)).toThrow(/invalid node count/);
  });
});

describe.skipIf(!isRoot)('flotilla lab (real namespaces)', () => {
  const name = `t${randomBytes(4).toString('hex')}`;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let state: LabState;
  const lab = (...args: string[]) => flotilla(['lab', ...args, '--name', name], env);
  const inNs = (namespace: string, ...argv: string[]) =>
    run('ip', ['netns', 'exec', namespace, ...argv]);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-lab-'));
    env = { FLOTILLA_LAB_DIR: dir };
    const up = await lab('up', '--nodes', '2');
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    state = JSON.parse(await readFile(path.join(dir, `${name}.json`), 'utf8')) as LabState;
  });

  afterAll(async () => {
    // Whatever happened above, leave no namespace behind.
    const recorded = planLab(name, 2);
    await labDownState(recorded).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('connects the nodes to each other and to the internet namespace', async () => {
    const node1 = state.nodes[0]!.namespace;
    await inNs(node1, 'ping', '-c1', '-W1', '203.0.113.12');
    await inNs(node1, 'ping', '-c1', '-W1', '203.0.113.1');
    const status = await lab('status', '--json');
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as {
      nodes: { address: string; reachable: boolean }[];
    };
    expect(parsed.nodes.map((node) => [node.address, node.reachable])).toEqual([
      ['203.0.113.11', true],
      ['203.0.113.12', true],
    ]);
  });

  it('runs commands inside a node and passes the exit code through', async () => {
    const shown = await flotilla(
      ['lab', 'exec', 'node1', '--name', name, '--', 'ip', '-4', 'addr'],
      env,
    );
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('203.0.113.11/24');
    const failed = await flotilla(
      ['lab', 'exec', 'node2', '--name', name, '--', 'sh', '-c', 'exit 7'],
      env,
    );
    expect(failed.code).toBe(7);
    const unknown = await flotilla(['lab', 'exec', 'node9', '--name', name, '--', 'true'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('has no node "node9"');
    expect(unknown.stderr).toContain('hint: its nodes are node1, node2');
  });

  it('refuses a second up with the same name, clearly', async () => {
    const again = await lab('up', '--nodes', '2');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`lab "${name}" already exists`);
    expect(again.stderr).toContain('hint:');
    expect(again.stderr).not.toMatch(/\n\s+at /);
  });

  it('down removes everything, even after a crash removed pieces by hand', async () => {
    // Crash-like: the internet namespace (bridge, host veth ends) and node2 already gone.
    await run('ip', ['netns', 'del', state.internetNamespace]);
    await run('ip', ['netns', 'del', state.nodes[1]!.namespace]);
    const down = await lab('down');
    expect(down.stderr).toBe('');
    expect(down.code).toBe(0);
    const left = await listNamespaces();
    for (const resource of state.resources)
      if (resource.kind === 'netns') expect(left.has(resource.name)).toBe(false);
    const { stdout: links } = await run('ip', ['-o', 'link', 'show']);
    expect(links).not.toContain(state.short);
    // Idempotent: a second down has nothing left to do and still succeeds.
    expect((await lab('down')).code).toBe(0);
    expect((await lab('status')).code).toBe(1);
  });
});
