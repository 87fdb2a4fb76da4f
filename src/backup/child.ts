// Running the programs a backup drives (restic, pg_dump, pg_restore, hooks): argv arrays
// only, an explicit environment, and stderr kept (its tail) for the error message.
import { spawn, type ChildProcess, type StdioNull, type StdioPipe } from 'node:child_process';
import type { Stream } from 'node:stream';
import { BackupError } from './backup-error.ts';

/** Where a child's stdin or stdout goes: nowhere, a pipe we read, or a file/pipe fd. */
export type Io = StdioNull | StdioPipe | number | Stream;

export interface ChildOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  stdin?: Io;
  stdout?: Io;
  uid?: number;
  gid?: number;
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Enough of stderr to explain a failure, without holding a chatty program's whole log. */
const STDERR_KEPT = 16 * 1024;

export interface Running {
  child: ChildProcess;
  /** What the child printed on stdout, when stdout is 'pipe'. */
  stdout(): string;
  /** The tail of stderr. */
  stderr(): string;
  done: Promise<Finished>;
}

export function exited(child: ChildProcess): Promise<Finished> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

export function start(argv: readonly string[], options: ChildOptions): Running {
  const [program, ...args] = argv;
  if (program === undefined) throw new Error('empty command');
  const child = spawn(program, args, {
    env: options.env,
    cwd: options.cwd,
    stdio: [options.stdin ?? 'ignore', options.stdout ?? 'pipe', 'pipe'],
    uid: options.uid,
    gid: options.gid,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEPT);
  });
  // A program that is not installed: reported like an exit, with a message that says so.
  const done = new Promise<Finished>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      stderr +=
        error.code === 'ENOENT' ? `${program} is not installed (not on PATH)` : error.message;
      resolve({ code: 127, signal: null });
    });
    void exited(child).then(resolve);
  });
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

export interface Step {
  argv: readonly string[];
  options: ChildOptions;
}

/**
 * Starts `from | to`: from's stdout is to's stdin, with no copy through Node, so a dying
 * reader stops the writer (EPIPE) and the end of the writer is the reader's end of input.
 */
export function startPipe(from: Step, to: Step): { from: Running; to: Running } {
  const reader = start(to.argv, { ...to.options, stdin: 'pipe' });
  const writer = start(from.argv, { ...from.options, stdout: reader.child.stdin! });
  // Our own copy of the pipe's write end: while it is open the reader never sees the end.
  reader.child.stdin!.destroy();
  return { from: writer, to: reader };
}

/** Runs to the end; the caller judges the exit. */
export async function run(
  argv: readonly string[],
  options: ChildOptions,
): Promise<Finished & { stdout: string; stderr: string }> {
  const running = start(argv, options);
  const finished = await running.done;
  return { ...finished, stdout: running.stdout(), stderr: running.stderr() };
}

/** "exit 1" or "killed by SIGTERM". */
function describeExit({ code, signal }: Finished): string {
  return signal ? `killed by ${signal}` : `exit ${code}`;
}

/** The last non-empty line of a program's stderr: usually the one that says why. */
export function lastLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .at(-1) ?? ''
  );
}

/** PATH and a fixed locale: never the caller's whole environment (it may hold secrets). */
export function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? '/',
    LANG: 'C.UTF-8',
    ...extra,
  };
}

/** Runs `argv` and throws a BackupError naming `what` unless it exits 0; returns stdout. */
export async function runOrThrow(
  argv: readonly string[],
  options: ChildOptions,
  what: string,
  hint?: string,
): Promise<string> {
  const result = await run(argv, options);
  if (result.code !== 0) throw new BackupError(failed(what, result, result.stderr), hint);
  return result.stdout;
}

/** "pg_dump failed (exit 1): <the line that says why>". */
export function failed(what: string, finished: Finished, stderr: string): string {
  return `${what} failed (${describeExit(finished)}): ${why(stderr) || 'no message'}`;
}

/** The last line that reports an error (tools add advice after it), else the last line. */
function why(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim());
  return lines.filter((line) => /error|fatal/i.test(line)).at(-1) ?? lastLine(stderr);
}

/** Polls `probe` until it resolves: a server started by `running` is ready to serve. */
export async function waitUntilServing(
  running: Running,
  what: string,
  probe: () => Promise<unknown>,
  timeoutMs = 30_000,
): Promise<void> {
  const { child } = running;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const exit = describeExit({ code: child.exitCode, signal: child.signalCode });
      throw new BackupError(`${what} stopped at start (${exit}): ${lastLine(running.stderr())}`);
    }
    try {
      await probe();
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new BackupError(`${what} did not start: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Stops a server started by `start`: `signal`, then SIGKILL if it lingers. */
export async function stopServer(
  running: Running | undefined,
  signal: NodeJS.Signals,
  graceMs = 15_000,
): Promise<void> {
  const child = running?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(killer);
}
