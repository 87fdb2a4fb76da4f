// The agent's supervisor for one native-process instance. It spawns the command in its own
// process group (and, when told, in its service's cgroup: its local network segment) with
// exactly the environment it was given and its output going straight to the instance's log
// file, restarts it with PM2-style backoff, stops it gracefully, and leaves it running when
// the agent goes away, so that the next agent adopts it instead of starting a duplicate.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { DEFAULT_RESTART_TIMING, RestartBackoff, type RestartTiming } from './backoff.ts';
import {
  readInstanceRecord,
  specHash,
  writeInstanceRecord,
  type InstanceRecord,
} from './instance-records.ts';
import {
  DEFAULT_LOG_KEEP,
  DEFAULT_LOG_MAX_BYTES,
  instanceLogFile,
  openLogFile,
  rotateLog,
} from './log-files.ts';
import { cgroup2Mount, cgroupOf, CgroupError, startInCgroup } from './cgroup.ts';
import { isRunning, readProcStat, signalGroup } from '../../system/proc.ts';
import { stopRecordedInstance, terminateGroup, type StopPolicy } from './terminate.ts';
import { resolveUser, UnknownUserError } from '../../system/users.ts';
import { checkStart, StartRefused } from './start-check.ts';
import type {
  ExitInfo,
  InstanceState,
  RestartPolicy,
  Supervisor,
  SupervisorStatus,
} from '../runtime/supervisor.ts';
import { SupervisorLifecycle } from '../runtime/supervisor-lifecycle.ts';

export interface ProcessSpec {
  /** Instance id, e.g. `api-1`: names the log file and the instance record. */
  id: string;
  /** argv; never run through a shell. */
  command: string[];
  cwd: string;
  /** The complete environment: the child gets exactly this (the caller adds PATH, HOME…). */
  env: Record<string, string>;
  /** System user to run as: `name` or `name:group`. */
  user?: string;
  /**
   * The cgroup2 cgroup (relative to the cgroup2 root, e.g. `flotilla/<stack>/<node>/<service>`)
   * the process is started in: its local network segment. A start that cannot enter it
   * fails; a running process found outside it is replaced.
   */
  cgroup?: string;
  stop: StopPolicy;
  restart: RestartPolicy;
  logDir: string;
  /** Where the instance record lives. */
  stateDir: string;
  logMaxBytes?: number;
  /** Rotated log files to keep. */
  logKeep?: number;
}

export interface SupervisorTiming extends RestartTiming {
  /** How often an adopted process (not our child, so no exit event) is looked at. */
  pollMs: number;
  /** How often the log file's size is checked against its cap. */
  logCheckMs: number;
}

export const DEFAULT_SUPERVISOR_TIMING: SupervisorTiming = {
  ...DEFAULT_RESTART_TIMING,
  pollMs: 100,
  logCheckMs: 5_000,
};

interface Running {
  pid: number;
  startTime: number;
  startedAt: number;
  /** Stops watching for the exit (the child's event, or the /proc poll of an adopted one). */
  unwatch: () => void;
  exited: Promise<void>;
  markExited: () => void;
}

/** Instance ids name files: no separators, no dot-dot. */
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function requireCgroup2(): string {
  const mount = cgroup2Mount();
  if (mount === undefined) throw new CgroupError('cgroup2 is not mounted on this machine');
  return mount;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Events come the moment things happen: `started`, `exited`, `restarting` (with the
 * delay), `failed` (too many unstable starts: no more restarts), `stopped`.
 */
export class ProcessSupervisor extends SupervisorLifecycle implements Supervisor {
  /** specHash() of this spec; the instance record carries the one its process ran with. */
  readonly specHash: string;
  readonly logFile: string;
  private readonly timing: SupervisorTiming;
  private readonly backoff: RestartBackoff;
  private state: InstanceState = 'stopped';
  private unstableStarts = 0;
  private lastExit: ExitInfo | undefined;
  private error: string | undefined;
  private running: Running | undefined;
  private rotating: Promise<void> | undefined;
  private logTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly spec: ProcessSpec,
    timing: Partial<SupervisorTiming> = {},
  ) {
    super(spec.id);
    if (!INSTANCE_ID.test(spec.id)) throw new Error(`bad instance id "${spec.id}"`);
    if (spec.command.length === 0) throw new Error(`${spec.id}: empty command`);
    this.timing = { ...DEFAULT_SUPERVISOR_TIMING, ...timing };
    this.backoff = new RestartBackoff(this.timing);
    this.specHash = specHash(spec);
    this.logFile = instanceLogFile(spec.logDir, spec.id);
  }

  get status(): SupervisorStatus {
    const status: SupervisorStatus = {
      state: this.state,
      restarts: this.restarts,
      unstableStarts: this.unstableStarts,
    };
    if (this.running) {
      status.pid = this.running.pid;
      status.startedAt = this.running.startedAt;
    }
    if (this.lastExit) status.lastExit = { ...this.lastExit };
    if (this.error !== undefined) status.error = this.error;
    return status;
  }

  /**
   * A start adopts the process a previous agent left running when its record matches this
   * spec, replaces it when it does not, else spawns. To run a failed or exited instance
   * again, stop() it first.
   */
  protected beforeStart(): void {
    this.unstableStarts = 0;
    this.backoff.reset();
    this.logTimer = setInterval(() => void this.rotateLogs(), this.timing.logCheckMs);
  }

  /** Timers and the exit watch end; the process and its record stay for the next agent. */
  protected afterDetach(): void {
    clearInterval(this.logTimer);
    this.running?.unwatch();
  }

  /**
   * Stops the process group with the configured signal, SIGKILL after the timeout, and
   * resolves once it is gone; the record goes too. A stop never leads to a restart.
   */
  protected async shutDown(): Promise<void> {
    clearInterval(this.logTimer);
    await this.launching;
    const running = this.running;
    if (running) {
      await terminateGroup(running.pid, this.spec.stop);
      await running.exited;
    }
    // Also stops what a previous agent left running if this supervisor never started.
    const record = readInstanceRecord(this.spec.stateDir, this.spec.id);
    if (record) await stopRecordedInstance(this.spec.stateDir, record);
    this.state = 'stopped';
    this.emit('stopped');
  }

  protected async launch(mayAdopt: boolean): Promise<void> {
    this.state = 'starting';
    let previous: InstanceRecord | undefined;
    try {
      await mkdir(this.spec.logDir, { recursive: true, mode: 0o750 });
      await mkdir(this.spec.stateDir, { recursive: true, mode: 0o700 });
      await this.rotateLogs();
      previous = mayAdopt ? this.liveRecord() : undefined;
      if (previous && (previous.specHash !== this.specHash || !this.inItsCgroup(previous.pid))) {
        // An outdated copy of this instance is still running: replace it, never run two.
        await terminateGroup(previous.pid, previous.stop);
        previous = undefined;
      }
    } catch (error) {
      this.onExit(undefined, { code: null, signal: null }, describe(error));
      return;
    }
    if (!this.wanted) return;
    if (previous) this.adopt(previous);
    else this.spawnChild();
  }

  /** The record of this instance, if its process is still the one that was recorded. */
  private liveRecord(): InstanceRecord | undefined {
    const record = readInstanceRecord(this.spec.stateDir, this.spec.id);
    return record && isRunning(record.pid, record.startTime) ? record : undefined;
  }

  /** Whether `pid` runs in the spec's cgroup (or the spec has none). */
  private inItsCgroup(pid: number): boolean {
    return this.spec.cgroup === undefined || cgroupOf(pid) === `/${this.spec.cgroup}`;
  }

  private adopt(record: InstanceRecord): void {
    this.restarts = record.restarts;
    const running = this.track(record.pid, record.startTime, record.startedAt);
    // Not our child, so no exit event will come: its /proc entry tells when it is gone.
    const poll = setInterval(() => {
      if (!isRunning(running.pid, running.startTime)) {
        this.onExit(running, { code: null, signal: null });
      }
    }, this.timing.pollMs);
    running.unwatch = () => clearInterval(poll);
    this.emit('started', { pid: running.pid, startedAt: running.startedAt, adopted: true });
  }

  private spawnChild(): void {
    const [program = '', ...args] = this.spec.command;
    const startedAt = Date.now();
    let child: ChildProcess;
    let fd: number | undefined;
    try {
      const user = this.spec.user === undefined ? undefined : resolveUser(this.spec.user);
      checkStart(this.spec, user);
      fd = openLogFile(this.logFile);
      const options: SpawnOptions = {
        cwd: this.spec.cwd,
        env: this.spec.env,
        // Its own process group, so a stop reaches everything it started; and no tie to
        // the agent (no pipes, unref'd), so it outlives an agent restart.
        detached: true,
        stdio: ['ignore', fd, fd],
        ...(user && { uid: user.uid, gid: user.gid }),
      };
      const start = () => spawn(program, args, options);
      const cgroup = this.spec.cgroup;
      child = cgroup === undefined ? start() : startInCgroup(requireCgroup2(), cgroup, start);
    } catch (error) {
      const final = error instanceof StartRefused || error instanceof UnknownUserError;
      this.onExit(undefined, { code: null, signal: null }, describe(error), final);
      return;
    } finally {
      // The child holds its own copy of the descriptor.
      if (fd !== undefined) closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      // A missing executable or cwd, or a permission problem: Node reports it as an event.
      child.once('error', (error) =>
        this.onExit(undefined, { code: null, signal: null }, describe(error)),
      );
      return;
    }
    child.unref();
    // Node reaps children on a later tick, so even a child that already died still has its
    // /proc entry here. (A start time of 0 would only make the record unadoptable.)
    const startTime = readProcStat(pid)?.startTime ?? 0;
    const running = this.track(pid, startTime, startedAt);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      this.onExit(running, { code, signal });
    child.once('exit', onExit);
    running.unwatch = () => child.removeListener('exit', onExit);
    this.error = undefined;
    try {
      writeInstanceRecord(this.spec.stateDir, {
        id: this.spec.id,
        pid,
        startTime,
        specHash: this.specHash,
        startedAt,
        restarts: this.restarts,
        stop: this.spec.stop,
      });
    } catch (error) {
      // The process runs all the same; only a later agent could not adopt it.
      this.error = `cannot write the instance record: ${describe(error)}`;
    }
    this.emit('started', { pid, startedAt, adopted: false });
  }

  private track(pid: number, startTime: number, startedAt: number): Running {
    let markExited = () => {};
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const running: Running = { pid, startTime, startedAt, unwatch: () => {}, exited, markExited };
    this.running = running;
    this.state = 'running';
    return running;
  }

  /**
   * `running` is undefined when the command never ran (its start failed with `error`);
   * `final`: it cannot start until something changes (start-check.ts), so no restart.
   */
  private onExit(
    running: Running | undefined,
    exit: Pick<ExitInfo, 'code' | 'signal'>,
    error?: string,
    final = false,
  ): void {
    const at = Date.now();
    const uptimeMs = running ? at - running.startedAt : 0;
    if (running) {
      running.unwatch();
      this.running = undefined;
      // On a stop, the group gets its grace period from terminateGroup instead.
      if (this.wanted) this.killLeftovers(running);
      running.markExited();
    }
    this.lastExit = { ...exit, at };
    if (error !== undefined) this.error = error;
    const event = { ...this.lastExit, uptimeMs, ...(error !== undefined && { error }) };
    if (!this.wanted) {
      // stop() decides what comes next.
      this.emit('exited', event);
      return;
    }
    if (uptimeMs >= this.timing.resetAfterMs) this.backoff.reset();
    this.unstableStarts = uptimeMs < this.timing.minUptimeMs ? this.unstableStarts + 1 : 0;
    // An unknown exit (adopted process, failed spawn) counts as a failure.
    const failed = exit.code !== 0;
    const restart =
      this.spec.restart === 'always' || (this.spec.restart === 'on-failure' && failed);
    const giveUp = restart && (final || this.unstableStarts >= this.timing.maxUnstableStarts);
    this.state = !restart ? 'exited' : giveUp ? 'failed' : 'backoff';
    this.emit('exited', event);
    if (!restart) return;
    if (giveUp) {
      this.emit('failed', {
        unstableStarts: this.unstableStarts,
        ...(final && error !== undefined && { reason: error }),
      });
      return;
    }
    this.restartAfter(this.backoff.nextDelay());
  }

  /**
   * Whatever the process started in its group dies with it, so that nothing stray holds
   * the ports or files its next copy needs. Skipped if its PID already belongs to another
   * process (only possible for an adopted one, noticed by polling).
   */
  private killLeftovers(running: Running): void {
    const stat = readProcStat(running.pid);
    if (stat === undefined || stat.startTime === running.startTime) {
      signalGroup(running.pid, 'SIGKILL');
    }
  }

  /** A log that cannot be rotated must not take the service down: the next check retries. */
  private rotateLogs(): Promise<void> {
    this.rotating ??= rotateLog(
      this.logFile,
      this.spec.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES,
      this.spec.logKeep ?? DEFAULT_LOG_KEEP,
    )
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => (this.rotating = undefined));
    return this.rotating;
  }
}
