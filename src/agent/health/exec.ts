// Exec check: run an argv (never through a shell) as the instance's user, with its
// environment and working directory; exit 0 is healthy. Never as the agent (root): the
// check is the service's code (often a script in its own, writable directory), so running
// it as root would hand the service's user root. The command runs in its own process
// group so a timeout kills everything it started, not just the first process.
import { spawn } from 'node:child_process';
import { runProbe, type ProbeOptions, type ProbeResult } from '../../monitoring/deadline.ts';

export interface ExecProbeOptions extends ProbeOptions {
  command: readonly string[];
  /** The whole environment: the agent's own is never passed through. */
  env: Record<string, string>;
  cwd: string;
  /** Who runs it: the service's user and group (supplementary groups are dropped). */
  user?: { uid: number; gid: number };
}

/** Enough output to explain a failure in one line. */
const OUTPUT_TAIL = 2048;
const DETAIL_OUTPUT = 120;

function lastLine(output: string): string {
  const line = output.trimEnd().split('\n').pop()?.trim() ?? '';
  return line.length > DETAIL_OUTPUT ? `${line.slice(0, DETAIL_OUTPUT)}…` : line;
}

export function probeExec(options: ExecProbeOptions): Promise<ProbeResult> {
  const [program, ...args] = options.command;
  if (program === undefined) return Promise.resolve({ ok: false, detail: 'empty command' });
  return runProbe(
    options,
    (signal) =>
      new Promise((resolve, reject) => {
        const child = spawn(program, args, {
          cwd: options.cwd,
          env: options.env,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
          ...(options.user && { uid: options.user.uid, gid: options.user.gid }),
        });
        const killGroup = () => {
          if (child.pid === undefined) return;
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // The group is already gone.
          }
        };
        signal.addEventListener('abort', killGroup, { once: true });
        let output = '';
        const collect = (chunk: Buffer) => {
          output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
        };
        child.stdout.on('data', collect);
        child.stderr.on('data', collect);
        // Background children a check leaves behind must not outlive it (and would hold
        // its pipes open, so `close` would never come).
        child.once('exit', killGroup);
        child.once('error', (error: NodeJS.ErrnoException) =>
          reject(new Error(`cannot run ${program}: ${error.code ?? error.message}`)),
        );
        child.once('close', (code, killedBy) => {
          if (code === 0) return resolve({ ok: true, detail: 'exit 0' });
          const status = code === null ? `killed by ${killedBy}` : `exit ${code}`;
          const said = lastLine(output);
          resolve({ ok: false, detail: said === '' ? status : `${status}: ${said}` });
        });
      }),
  );
}
