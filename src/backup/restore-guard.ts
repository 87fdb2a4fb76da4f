// A restore over live data (a service's database, its Redis dataset, files put back in
// place) replaces what is there now, so one mistyped command could lose it for good. It
// runs only when confirmed with the job's name (`--yes`, or typed at a prompt), checked
// where the restore runs (the CLI here, the agent when the hub asks it), and only after a
// safety snapshot of the live data, which undoes the restore if it was the wrong one.
import { BackupError } from './backup-error.ts';
import { withHooks } from './hooks.ts';
import type { ResolvedJob } from './job.ts';
import type { BackupSummary } from './restic-output.ts';
import { SOURCES } from './sources/index.ts';
import { SAFETY_TAG, snapshotLabels, type SourceContext } from './sources/source.ts';

/** Refused for want of a confirmation: a usage problem, not a failure (the CLI exits 2). */
export class ConfirmationRequired extends BackupError {}

/** What restoring `job` into `into` would replace of the live data; undefined: nothing. */
export function liveDataReplaced(job: ResolvedJob, into: string | undefined): string | undefined {
  return SOURCES[job.source.kind].replaces(job, into);
}

/** Throws unless the restore replaces no live data or `confirm` is the job's name. */
export function assertConfirmed(
  job: ResolvedJob,
  into: string | undefined,
  confirm: string | undefined,
): void {
  const replaced = liveDataReplaced(job, into);
  if (replaced === undefined || confirm === job.name) return;
  throw new ConfirmationRequired(
    `restoring ${job.name} replaces ${replaced}: not confirmed, nothing was changed`,
    `confirm with --yes (a safety snapshot of the live data is taken first), or restore elsewhere with --into`,
  );
}

/** A normal backup of the live data (hooks and all), tagged `safety`. */
export function takeSafetySnapshot(context: SourceContext): Promise<BackupSummary> {
  const { job } = context;
  return withHooks(job, () =>
    SOURCES[job.source.kind].backup(context, snapshotLabels(job, [SAFETY_TAG])),
  );
}

/** The command that puts back what a safety snapshot holds (where it was restored over). */
export function restoreBackCommand(job: string, safety: string, into: string | undefined): string {
  const target = into === undefined ? '' : ` --into ${into}`;
  return `flotilla backup restore ${job} --snapshot ${safety}${target} --yes`;
}
