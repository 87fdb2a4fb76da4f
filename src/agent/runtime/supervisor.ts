// The seam between the agent and what runs an instance. A native process
// (process/supervisor.ts) and a container are supervised alike: the same states, the same
// events the moment things happen, the same restart policy, and a `detach` that leaves the
// instance running for the next agent to adopt. InstanceRunner and the agent see only this.
import type { EventEmitter } from 'node:events';
import type { ContainerStatus } from '../../protocol/status.ts';

export type RestartPolicy = 'always' | 'on-failure' | 'never';

export type InstanceState = 'starting' | 'running' | 'backoff' | 'stopped' | 'failed' | 'exited';

export interface ExitInfo {
  /** null when killed by a signal, or when unknown (an adopted process, a failed spawn). */
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

export interface SupervisorStatus {
  state: InstanceState;
  pid?: number;
  startedAt?: number;
  /** Restarts done by the supervisor (kept across adoption). */
  restarts: number;
  lastExit?: ExitInfo;
  /** Starts in a row that died within the minimum uptime. */
  unstableStarts: number;
  /** Why the last start could not run (unknown user, missing executable, missing image…). */
  error?: string;
  /** Image services: the container and the exact image it runs. */
  container?: ContainerStatus;
}

/**
 * `started`, `exited`, `restarting` (with the delay), `failed` (too many unstable starts: no
 * more restarts), `stopped`.
 */
export interface SupervisorEvents {
  started: [{ pid: number; startedAt: number; adopted: boolean }];
  exited: [ExitInfo & { uptimeMs: number; error?: string }];
  restarting: [{ delayMs: number; restarts: number }];
  /** `reason`: a start that cannot succeed as things are (no restarts were tried). */
  failed: [{ unstableStarts: number; reason?: string }];
  stopped: [];
}

export interface Supervisor extends EventEmitter<SupervisorEvents> {
  /** Identifies what runs: a different one means the instance must be replaced. */
  readonly specHash: string;
  readonly status: SupervisorStatus;
  /** Runs the instance, adopting a matching one left running; resolves once it runs or failed. */
  start(): Promise<void>;
  /** Stops it (stop signal, then kill after the timeout); resolves once it is gone. */
  stop(): Promise<void>;
  /** Lets go without stopping anything: the next agent adopts the instance. */
  detach(): void;
}
