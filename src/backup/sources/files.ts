// Files: restic backs the paths up itself (with the job's excludes); a restore recreates
// them, full paths and all, under the directory given with --into (so `--into /` puts
// them back in place, over the live files).
import path from 'node:path';
import { BackupError } from '../backup-error.ts';
import type { ResolvedJob } from '../job.ts';
import type { SnapshotLabels } from '../restic.ts';
import type { Snapshot } from '../restic-output.ts';
import { verifyRestoredFiles } from './restored-files.ts';
import type { BackupSource, SourceContext } from './source.ts';

function filesOf(job: ResolvedJob): Extract<ResolvedJob['source'], { kind: 'files' }> {
  if (job.source.kind !== 'files') throw new Error(`${job.name} is not a files job`);
  return job.source;
}

export const filesSource: BackupSource = {
  backup({ job, restic }: SourceContext, labels: SnapshotLabels) {
    const { paths, exclude } = filesOf(job);
    return restic.backupPaths(paths, exclude, labels);
  },

  replaces(job: ResolvedJob, into: string | undefined) {
    if (into === undefined || path.resolve(into) !== '/') return undefined;
    return `the live files ${filesOf(job).paths.join(', ')}`;
  },

  async restore({ restic }: SourceContext, snapshot: Snapshot, into: string | undefined) {
    if (into === undefined)
      throw new BackupError(
        'a files restore needs --into <directory>',
        'the files are recreated under it with their full paths; copy back what you need',
      );
    await restic.restore(snapshot.id, into);
    return `restored ${snapshot.paths.join(', ')} under ${into}`;
  },

  verify: verifyRestoredFiles,
};
