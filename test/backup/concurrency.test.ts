// Two jobs on one repository at once. restic 0.14 fails at once on a repository another
// restic holds exclusively (forget --prune), so the in-process queue is what keeps two
// overlapping jobs from failing; restic check proves nothing was corrupted.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedJob } from '../../src/backup/job.ts';
import { runBackup } from '../../src/backup/run.ts';
import { verifyJob } from '../../src/backup/verify.ts';
import { checkAll, snapshots, type Repository } from './fixtures/restic-cli.ts';
import { jobsStack, resolveJobs } from './fixtures/stack.ts';

let dir: string;
let repo: Repository;
let jobs: ResolvedJob[];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-backup-concurrent-'));
  repo = { repository: path.join(dir, 'repo'), password: 'shared' };
  // Random data, so each backup takes a moment and they overlap.
  const fields = `kind: command, command: [head, -c, '12000000', /dev/urandom], schedule: '0 2 * * *', keep: { last: 2 }`;
  const yaml = jobsStack('busy', `{ repository: ${repo.repository}, password: shared }`, {
    alpha: fields,
    beta: fields,
  });
  jobs = resolveJobs(yaml, dir, {}, ['alpha', 'beta']);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('two jobs on one repository at once', () => {
  it('both succeed, both snapshots are there, and restic check reads every pack back', async () => {
    const events = await Promise.all(jobs.map((job) => runBackup(job, { stateDir: dir })));
    expect(events.map((event) => event.type)).toEqual(['backup.succeeded', 'backup.succeeded']);
    // A second round while the first job's latest is being verified.
    const more = await Promise.all([
      ...jobs.map((job) => runBackup(job, { stateDir: dir })),
      verifyJob(jobs[0]!, { stateDir: dir }),
    ]);
    expect(more.map((event) => event.type)).toEqual([
      'backup.succeeded',
      'backup.succeeded',
      'backup.verified',
    ]);
    const found = await snapshots(repo);
    for (const name of ['alpha', 'beta']) {
      const own = found.filter((snapshot) => snapshot.tags?.includes(`job=${name}`));
      expect(own.map((snapshot) => snapshot.short_id).sort()).toEqual(
        [...events, ...more]
          .filter((event) => event.data.job === name && event.type === 'backup.succeeded')
          .map((event) => event.data.snapshot)
          .sort(),
      );
    }
    expect(await checkAll(repo)).toContain('no errors were found');
  }, 120_000);
});
