// The daemon schedules the backup jobs of its node: a files job due every few seconds has
// a snapshot in the repository shortly after `up`, without anyone running `backup run`.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flotilla } from '../helpers/flotilla-cli.ts';

const STACK = `name: scheduled
nodes:
  local: { address: 127.0.0.1 }
services:
  idle:
    run: { command: [sleep, infinity] }
backups:
  targets:
    here: { repository: ./repo, password: '\${secret:RESTIC_PASSWORD}' }
  jobs:
    notes:
      node: local
      kind: files
      paths: [./notes]
      schedule: '*/2 * * * * *'
      to: here
`;

describe('scheduled backups', { timeout: 90_000 }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let file: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-scheduled-'));
    env = { FLOTILLA_STATE_DIR: path.join(dir, 'state') };
    file = path.join(dir, 'flotilla.yml');
    await writeFile(file, STACK);
    await mkdir(path.join(dir, 'notes'));
    await writeFile(path.join(dir, 'notes', 'a.txt'), 'kept by the schedule\n');
    const set = await flotilla(['secrets', 'set', 'RESTIC_PASSWORD', '-f', file], env, 'pw-2f9c1');
    expect(set.code).toBe(0);
    const up = await flotilla(['up', '--detach', '-f', file], env);
    expect(up.code, up.stderr).toBe(0);
  }, 90_000);

  afterAll(async () => {
    await flotilla(['down', '-f', file], env);
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a due job on its own and records the snapshot', async () => {
    const upAt = Date.now();
    let snapshots: { time: string; snapshot: string }[] = [];
    while (snapshots.length === 0 && Date.now() - upAt < 30_000) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const list = await flotilla(['backup', 'list', 'notes', '--json', '-f', file], env);
      if (list.code === 0) snapshots = JSON.parse(list.stdout) as typeof snapshots;
    }
    expect(snapshots.length).toBeGreaterThan(0);
  });
});
