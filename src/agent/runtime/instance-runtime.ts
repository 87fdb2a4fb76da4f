// What the agent asks of a runtime (native processes, containers): turn a desired instance
// into something to supervise, and find and stop what an earlier agent left running. The
// agent's reconciler picks the runtime by the instance's `runtime.kind` and knows nothing
// else of how an instance runs.
import type { DesiredInstance } from '../../plan/desired.ts';
import type { CheckTarget } from '../health/check.ts';
import type { Probe } from '../health/probe.ts';
import type { SecretLookup } from '../process-spec.ts';
import type { Supervisor } from './supervisor.ts';

/** One desired instance, rendered for this node (secrets filled in) and ready to run. */
export interface PreparedInstance {
  /** Identifies what would run: a different one replaces the running instance. */
  specHash: string;
  /** How health checks reach the instance, and run an exec check as it. */
  checkTarget: CheckTarget;
  /** The supervisor of a new run; called only when the instance is (re)started. */
  supervise(): Supervisor;
  /**
   * Health as the runtime itself knows it, for an instance whose stack declares no check (a
   * container's image HEALTHCHECK, which the engine runs). Asked once the instance has
   * started; undefined, or no answer, means running is healthy.
   */
  ownHealth?: () => Probe | undefined;
}

export interface InstanceRuntime {
  /** Throws InstanceSpecError when the instance cannot run here (its message says why). */
  prepare(instance: DesiredInstance, secrets: SecretLookup): PreparedInstance;
  /** Ids of the instances an earlier agent left running: adopted, never started anew. */
  leftovers(): Promise<string[]>;
  /** Stops what an earlier agent left running of an instance that is no longer desired. */
  stopLeftover(id: string): Promise<void>;
  /** `down`, once every instance here is gone: the stack's networks on this node (containers). */
  removeNetworks?(): Promise<void>;
}
