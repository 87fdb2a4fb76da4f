// A command run inside a running container (`docker exec`), with its exit code and its
// output: what an exec health check needs. Bounded by a timeout: the engine has no call to
// stop an exec, so a command that overruns is killed by the host PID the engine reports
// (dockerd and the agent share the host's PID namespace).
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { containerFailure } from './containers.ts';
import { EngineNotFoundError, ExecTimeoutError } from './errors.ts';
import { demultiplex } from './stdio-stream.ts';
import type { EngineTransport } from './transport.ts';

export interface ExecOptions {
  cmd: readonly string[];
  env?: Record<string, string>;
  /** Default: the container's user. */
  user?: string;
  workingDir?: string;
  /** Default 30 s; then the command is killed and ExecTimeoutError thrown. */
  timeoutMs?: number;
  /** Kept of each of stdout and stderr (the start of it); default 64 KiB. */
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Output was longer than maxOutputBytes and was cut. */
  truncated: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_OUTPUT = 64 * 1024;
/** The output can end a moment before the engine records the exit code. */
const EXIT_POLL_MS = 20;

const createdSchema = z.object({ Id: z.string() });
const inspectSchema = z.object({
  Running: z.boolean(),
  ExitCode: z.number().nullable(),
  Pid: z.number(),
});

export class Exec {
  constructor(private readonly transport: EngineTransport) {}

  async run(containerId: string, options: ExecOptions): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timer.signal]) : timer.signal;
    const created = await this.transport.json(createdSchema, {
      method: 'POST',
      path: `/containers/${encodeURIComponent(containerId)}/exec`,
      json: {
        AttachStdin: false,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        Cmd: [...options.cmd],
        Env: Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`),
        ...(options.user !== undefined && { User: options.user }),
        ...(options.workingDir !== undefined && { WorkingDir: options.workingDir }),
      },
      signal: options.signal,
      failure: (answer) => containerFailure(containerId, answer),
    });
    const execId = created.Id;
    try {
      const output = await this.collect(
        execId,
        options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
        signal,
      );
      for (;;) {
        const state = await this.inspect(execId, signal);
        if (!state.Running && state.ExitCode !== null)
          return { exitCode: state.ExitCode, ...output };
        await sleep(EXIT_POLL_MS, undefined, { signal });
      }
    } catch (error) {
      if (!timer.signal.aborted || options.signal?.aborted) throw error;
      await this.killOverrun(execId);
      throw new ExecTimeoutError(
        `\`${options.cmd.join(' ')}\` in container ${containerId} ran longer than ${timeoutMs / 1000} s`,
        { hint: 'it was killed; raise the check’s timeout or make the command return sooner' },
      );
    } finally {
      clearTimeout(timeout);
    }
  }

  private async collect(
    execId: string,
    limit: number,
    signal: AbortSignal,
  ): Promise<{ stdout: string; stderr: string; truncated: boolean }> {
    const response = await this.transport.open({
      method: 'POST',
      path: `/exec/${execId}/start`,
      json: { Detach: false, Tty: false },
      signal,
      timeoutMs: false,
    });
    const kept = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const sizes = { stdout: 0, stderr: 0 };
    let truncated = false;
    try {
      for await (const frame of demultiplex(response as AsyncIterable<Buffer>, `exec ${execId}`)) {
        const room = limit - sizes[frame.stream];
        if (frame.data.length > room) truncated = true;
        if (room <= 0) continue;
        kept[frame.stream].push(frame.data.subarray(0, room));
        sizes[frame.stream] += Math.min(room, frame.data.length);
      }
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw error;
    }
    return {
      stdout: Buffer.concat(kept.stdout).toString('utf8'),
      stderr: Buffer.concat(kept.stderr).toString('utf8'),
      truncated,
    };
  }

  private inspect(execId: string, signal?: AbortSignal) {
    return this.transport.json(inspectSchema, {
      method: 'GET',
      path: `/exec/${execId}/json`,
      signal,
      failure: (answer) =>
        answer.statusCode === 404
          ? new EngineNotFoundError(`exec ${execId} is gone`, {
              statusCode: 404,
              engineMessage: answer.message,
              hint: 'its container was removed or restarted while the command ran',
            })
          : undefined,
    });
  }

  private async killOverrun(execId: string): Promise<void> {
    const state = await this.inspect(execId).catch(() => undefined);
    if (state === undefined || !state.Running || state.Pid <= 0) return;
    try {
      process.kill(state.Pid, 'SIGKILL');
    } catch {
      // It exited between the inspect and the kill.
    }
  }
}
