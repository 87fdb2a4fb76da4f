// The per-repository queue: operations on one repository never overlap, and steps run
// inside a held operation go straight through instead of waiting for themselves.
import { describe, expect, it } from 'vitest';
import { inRepositoryQueue } from '../../src/backup/repository-queue.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('inRepositoryQueue', () => {
  it('keeps a held sequence whole: another operation waits for all of its steps', async () => {
    const log: string[] = [];
    const step = (name: string) =>
      inRepositoryQueue('/repo', async () => {
        log.push(`${name} start`);
        await tick();
        log.push(`${name} end`);
      });
    const verify = inRepositoryQueue('/repo', async () => {
      await step('snapshots');
      await tick();
      await step('restore');
    });
    const backup = step('forget');
    await Promise.all([verify, backup]);
    expect(log).toEqual([
      'snapshots start',
      'snapshots end',
      'restore start',
      'restore end',
      'forget start',
      'forget end',
    ]);
  });

  it('lets another repository run meanwhile', async () => {
    const log: string[] = [];
    const slow = inRepositoryQueue('/a', async () => {
      await tick();
      await tick();
      log.push('a');
    });
    const quick = inRepositoryQueue('/b', async () => void log.push('b'));
    await Promise.all([slow, quick]);
    expect(log).toEqual(['b', 'a']);
  });
});
