// Files: restic backs the paths up itself (with the job's excludes); a restore recreates
// them, full paths and all, under the directory given with --into.
import { BackupError } from '../backup-error.ts';
import type { Snapshot } from '../restic-output.ts';
import { verifyRestoredFiles } from './restored-files.ts';
import { snapshotLabels, type BackupSource, type SourceContext } from './source.ts';

export const filesSource: BackupSource = {
  backup({ job, restic }: SourceContext) {
    if (job.source.kind !== 'files') throw new Error(`${job.name} is not a files job`);
    return restic.backupPaths(job.source.paths, job.source.exclude, snapshotLabels(job));
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
