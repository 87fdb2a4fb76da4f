// Runs a program to completion (argv, never a shell) and keeps the tail of what it printed,
// stdout and stderr interleaved as they came: for builds and release commands, whose last
// lines are what a failed deploy shows. Killed with its process group after `timeoutMs`.
import { spawn } from 'node:child_process';

/** Enough to show the last screenful of a build, not a chatty one's whole log. */
const OUTPUT_KEPT = 16 * 1024;

export interface CapturedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The last lines of its output. */
  output: string;
}

export interface RunCapturedOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  timeoutMs: number;
}

export function runCaptured(
  argv: readonly string[],
  options: RunCapturedOptions,
): Promise<CapturedRun> {
  return new Promise((resolve) => {
    let output = '';
    let timedOut = false;
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEPT);
    };
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...(options.uid !== undefined && { uid: options.uid }),
      ...(options.gid !== undefined && { gid: options.gid }),
    });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, timedOut, output: `${output}${error.message}\n` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, output });
    });
  });
}

/** The last `count` lines of a captured output. */
export function lastLines(output: string, count: number): string[] {
  return output.trimEnd().split('\n').slice(-count);
}
