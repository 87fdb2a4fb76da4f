// A command's stdout, streamed into restic like a database dump: when the command fails,
// the snapshot restic made of its partial output is removed and the backup fails.
import { BackupError } from '../backup-error.ts';
import { baseEnv } from '../child.ts';
import type { Snapshot } from '../restic-output.ts';
import { verifyRestoredFiles } from './restored-files.ts';
import type { SnapshotLabels } from '../restic.ts';
import { dumpToPath, type BackupSource, type SourceContext } from './source.ts';

export const commandSource: BackupSource = {
  backup({ job, restic }: SourceContext, labels: SnapshotLabels) {
    if (job.source.kind !== 'command') throw new Error(`${job.name} is not a command job`);
    const argv = job.source.command;
    return restic.backupStream(
      {
        kind: 'command',
        what: argv[0]!,
        step: { argv, options: { env: baseEnv(), cwd: job.cwd } },
      },
      `${job.name}.out`,
      labels,
    );
  },

  // Its output only ever goes to a new file.
  replaces: () => undefined,

  async restore(context: SourceContext, snapshot: Snapshot, into: string | undefined) {
    if (into === undefined)
      throw new BackupError('a command restore needs --into <file or directory>');
    return `wrote the output to ${await dumpToPath(context, snapshot, into)}`;
  },

  verify: verifyRestoredFiles,
};
