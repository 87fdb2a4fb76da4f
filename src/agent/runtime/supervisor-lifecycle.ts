// What every supervisor does alike, whatever it runs (a process, a container): start once
// a stop still under way has ended, stop only once however often asked, detach (no more
// events; the instance keeps running for the next agent), and restart after a delay. The
// subclass says how to launch and how to shut down.
import { EventEmitter } from 'node:events';
import type { SupervisorEvents } from './supervisor.ts';

export abstract class SupervisorLifecycle extends EventEmitter<SupervisorEvents> {
  /** Whether the caller wants the instance up: set by start(), cleared by stop()/detach(). */
  protected wanted = false;
  /** The launch under way (or the last one). */
  protected launching: Promise<void> = Promise.resolve();
  /** Restarts done by this supervisor (kept across adoption). */
  protected restarts = 0;
  private detached = false;
  private stopping: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(private readonly instanceId: string) {
    super();
  }

  /** Runs the instance, adopting a matching one left running; resolves once it runs or failed. */
  start(): Promise<void> {
    this.refuseDetached();
    if (this.wanted) return this.launching;
    this.wanted = true;
    this.beforeStart();
    const stopped = this.stopping;
    this.stopping = undefined;
    this.launching = (async () => {
      await stopped?.catch(() => undefined);
      if (this.wanted) await this.launch(true);
    })();
    return this.launching;
  }

  /** Stops it (its stop signal, a kill after the timeout); resolves once it is gone. */
  stop(): Promise<void> {
    this.refuseDetached();
    this.stopping ??= (() => {
      this.wanted = false;
      clearTimeout(this.restartTimer);
      return this.shutDown();
    })();
    return this.stopping;
  }

  /** Lets go without stopping anything: no more events, the next agent adopts the instance. */
  detach(): void {
    this.detached = true;
    this.wanted = false;
    clearTimeout(this.restartTimer);
    this.afterDetach();
    this.removeAllListeners();
  }

  /** A start begins (not a restart): reset what counts unstable starts. */
  protected abstract beforeStart(): void;
  /** `mayAdopt`: a first start may take over what an earlier agent left running. */
  protected abstract launch(mayAdopt: boolean): Promise<void>;
  /** After stop() cleared `wanted` and any pending restart: stop what runs, emit `stopped`. */
  protected abstract shutDown(): Promise<void>;
  /** Timers and watches end; what runs stays. */
  protected abstract afterDetach(): void;

  /** Launches again after `delayMs`, counted as a restart, and says so. */
  protected restartAfter(delayMs: number): void {
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarts++;
      this.launching = this.launch(false);
    }, delayMs);
    this.emit('restarting', { delayMs, restarts: this.restarts + 1 });
  }

  private refuseDetached(): void {
    if (this.detached) throw new Error(`${this.instanceId}: the supervisor was detached`);
  }
}
