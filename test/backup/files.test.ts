// Files and command backups against restic 0.14 (local repository): files come back with
// the same SHA-256 (excludes left out), a command's output byte for byte, a command that
// fails or is killed leaves no snapshot, and hooks run around the backup.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedJob } from '../../src/backup/job.ts';
import { restoreJob } from '../../src/backup/restore.ts';
import { runBackup } from '../../src/backup/run.ts';
import { verifyJob } from '../../src/backup/verify.ts';
import { snapshots } from './fixtures/restic-cli.ts';
import { resolveJobs } from './fixtures/stack.ts';

const PASSWORD = 'files-repo-password';

let dir: string;
let data: string;
const jobs: Record<string, ResolvedJob> = {};

const sha256 = (content: Buffer) => createHash('sha256').update(content).digest('hex');

/** relative path → sha256 of every file under `root`. */
async function tree(root: string, files: string[]): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  for (const file of files) sums[file] = sha256(await readFile(path.join(root, file)));
  return sums;
}

const KEPT = ['a.txt', 'nested/b.bin', 'nested/deeper/c.json'];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-backup-files-'));
  data = path.join(dir, 'data');
  await mkdir(path.join(data, 'nested', 'deeper'), { recursive: true });
  await writeFile(path.join(data, 'a.txt'), 'hello\n'.repeat(1000));
  await writeFile(path.join(data, 'nested', 'b.bin'), randomBytes(300_000));
  await writeFile(path.join(data, 'nested', 'deeper', 'c.json'), JSON.stringify({ n: [1, 2] }));
  await writeFile(path.join(data, 'nested', 'scratch.tmp'), 'excluded');
  await writeFile(path.join(dir, 'export.bin'), randomBytes(500_000));
  const yaml = `
name: files
services:
  app:
    run: { command: [sleep, '1000'] }
    backup:
      kind: files
      paths: [./data]
      exclude: ['*.tmp']
      schedule: '0 3 * * *'
      to: disk
      hooks:
        pre: [[sh, -c, 'echo pre >> hooks.log']]
        post: [[sh, -c, 'echo post >> hooks.log']]
backups:
  targets:
    disk: { repository: ${dir}/repo, password: '\${secret:PW}' }
  jobs:
    export: { node: local, kind: command, command: [cat, export.bin], schedule: '0 3 * * *', to: disk }
    broken: { node: local, kind: command, command: [sh, -c, 'head -c 2000000 /dev/urandom; exit 3'], schedule: '0 3 * * *', to: disk }
    killed: { node: local, kind: command, command: [sh, -c, 'head -c 2000000 /dev/zero; kill -9 $$'], schedule: '0 3 * * *', to: disk }
    gated:
      node: local
      kind: command
      command: [cat, export.bin]
      schedule: '0 3 * * *'
      to: disk
      hooks: { pre: [[sh, -c, 'echo not today >&2; exit 1']] }
`;
  const names = ['app', 'export', 'broken', 'killed', 'gated'];
  resolveJobs(yaml, dir, { PW: PASSWORD }, names).forEach((job) => (jobs[job.name] = job));
}, 30_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const repo = () => ({ repository: `${dir}/repo`, password: PASSWORD });
const options = () => ({ stateDir: path.join(dir, 'state') });

describe('a files backup', () => {
  it('restores every file with the same SHA-256, excludes left out, hooks run around it', async () => {
    const original = await tree(data, KEPT);
    const event = await runBackup(jobs.app!, options());
    expect(event).toMatchObject({ type: 'backup.succeeded', data: { job: 'app', kind: 'files' } });
    expect(await readFile(path.join(dir, 'hooks.log'), 'utf8')).toBe('pre\npost\n');

    await rm(data, { recursive: true });
    const into = path.join(dir, 'restored');
    expect((await restoreJob(jobs.app!, { ...options(), into })).restored).toContain(
      `under ${into}`,
    );
    const restored = path.join(into, data);
    expect(await tree(restored, KEPT)).toEqual(original);
    await expect(readFile(path.join(restored, 'nested', 'scratch.tmp'))).rejects.toThrow('ENOENT');
  }, 30_000);

  it('needs --into to restore, and confirmation to put the files back in place', async () => {
    await expect(restoreJob(jobs.app!, options())).rejects.toThrow('needs --into');
    await expect(restoreJob(jobs.app!, { ...options(), into: '/' })).rejects.toThrow(
      `restoring app replaces the live files ${data}: not confirmed, nothing was changed`,
    );
  });

  it('verify restores into a temp dir and checks every file', async () => {
    const event = await verifyJob(jobs.app!, options());
    expect(event).toMatchObject({
      type: 'backup.verified',
      data: { figures: { files: 3, bytes: 6000 + 300_000 + 11 } },
    });
  }, 30_000);
});

describe('a command backup', () => {
  it("saves the command's stdout and restores it byte for byte", async () => {
    const event = await runBackup(jobs.export!, options());
    expect(event).toMatchObject({ type: 'backup.succeeded', data: { bytes_processed: 500_000 } });
    const into = path.join(dir, 'export.restored');
    await restoreJob(jobs.export!, { ...options(), into });
    expect(sha256(await readFile(into))).toBe(sha256(await readFile(path.join(dir, 'export.bin'))));
  }, 30_000);

  it('a command that fails after writing leaves no snapshot', async () => {
    const before = await snapshots(repo());
    const event = await runBackup(jobs.broken!, options());
    expect(event.type).toBe('backup.failed');
    expect(event.message).toMatch(
      /^backup broken failed: sh failed \(exit 3\): no message; its partial snapshot [0-9a-f]{8} was removed$/,
    );
    expect(await snapshots(repo())).toEqual(before);
  }, 30_000);

  it('a command killed mid-way leaves no snapshot', async () => {
    const before = await snapshots(repo());
    const event = await runBackup(jobs.killed!, options());
    expect(event.message).toMatch(
      /^backup killed failed: sh failed \(killed by SIGKILL\).*partial snapshot [0-9a-f]{8} was removed$/,
    );
    expect(await snapshots(repo())).toEqual(before);
  }, 30_000);

  it('a failing pre hook stops the backup before anything is saved', async () => {
    const before = await snapshots(repo());
    const event = await runBackup(jobs.gated!, options());
    expect(event.message).toBe('backup gated failed: pre hook 1 (sh) failed (exit 1): not today');
    expect(event.data.hint).toBe('hooks.pre[0] in the stack file');
    expect(await snapshots(repo())).toEqual(before);
  }, 30_000);
});
