// A job's pre and post hooks: argv arrays run in the stack file's directory with a plain
// environment. A failing pre hook stops the backup; post hooks run whatever happened (they
// usually undo what pre did), and a failing one fails a backup that had succeeded.
import { baseEnv, runOrThrow } from './child.ts';
import type { ResolvedJob } from './job.ts';

async function runHooks(job: ResolvedJob, which: 'pre' | 'post'): Promise<void> {
  for (const [index, argv] of job.hooks[which].entries()) {
    await runOrThrow(
      argv,
      { env: baseEnv(), cwd: job.cwd },
      `${which} hook ${index + 1} (${argv[0]})`,
      `hooks.${which}[${index}] in the stack file`,
    );
  }
}

/** Runs `work` between the job's pre and post hooks. */
export async function withHooks<T>(job: ResolvedJob, work: () => Promise<T>): Promise<T> {
  await runHooks(job, 'pre');
  let result: T;
  try {
    result = await work();
  } catch (error) {
    // The work's failure is the one to report; post still gets its chance to clean up.
    await runHooks(job, 'post').catch(() => {});
    throw error;
  }
  await runHooks(job, 'post');
  return result;
}
