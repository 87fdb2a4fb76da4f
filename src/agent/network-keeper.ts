// The node's network as its desired state describes it: the mesh and firewall (in a
// cluster), the nftables table of the segments between its own services, and the hosts
// file that names the services it may reach. The segments and names are in place before
// any instance starts, the mesh and firewall alongside the starts (see start()); all of it
// is re-checked every few seconds, since a WireGuard daemon can die.
import type { DesiredValue } from '../protocol/desired.ts';
import { configHash } from '../state/config-hash.ts';
import { updateHostsFile } from './hosts-file.ts';
import type { NetworkApplier } from './network-applier.ts';
import type { PortRedirector } from './port-redirector.ts';
import type { SegmentEnforcer } from './segment-enforcer.ts';

export interface NetworkKeeperOptions {
  /** In a cluster: applies the mesh and firewall. */
  network?: NetworkApplier;
  /** In a cluster: the hosts file that gets name → address entries (/etc/hosts). */
  hostsFile?: string;
  segments: SegmentEnforcer;
  /** Deployed services' planned ports, redirected to the release slot that serves. */
  redirects: PortRedirector;
  event: (type: string, message: string) => void;
}

export class NetworkKeeper {
  private hostsWritten: string | undefined;
  /** The desired state last applied without a failure. */
  private appliedFrom: DesiredValue | undefined;
  /** Why the last apply failed; retried until it succeeds. */
  private failure: string | undefined;

  constructor(private readonly options: NetworkKeeperOptions) {}

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Applies a desired state this keeper has not applied yet (or whose apply failed). A pass
   * for an instance's change costs nothing here: checking that the WireGuard daemon still
   * runs is the periodic re-check's job, not every reconcile's (it took up to a second of
   * a busy node's reconcile, for nothing).
   */
  applyNew(desired: DesiredValue): NetworkApply {
    if (desired === this.appliedFrom && !this.failed) return { local: DONE, done: DONE };
    return this.start(desired);
  }

  /** Applies `desired` and checks what may have gone meanwhile (the WireGuard daemon). */
  async apply(desired: DesiredValue): Promise<void> {
    await this.start(desired).done;
  }

  /**
   * The segments between this node's services and the hosts file first: no instance may
   * start without them (a connection opened before the segment table exists stays open).
   * Then the mesh and firewall, which instances need not wait for: the firewall drops by
   * default, so a new service's port stays closed until its rule is in.
   */
  private start(desired: DesiredValue): NetworkApply {
    let failed = false;
    const attempt = async (part: () => Promise<void>) => {
      try {
        await part();
      } catch (error) {
        failed = true;
        const message = `the node's network could not be applied: ${(error as Error).message}`;
        // Retried every few seconds: say so once, not each time.
        if (message !== this.failure) this.options.event('network.failed', message);
        this.failure = message;
      }
    };
    const local = attempt(() => this.applyLocal(desired));
    const done = local
      .then(() => attempt(() => this.applyShared(desired)))
      .then(() => {
        if (failed) return;
        this.failure = undefined;
        this.appliedFrom = desired;
      });
    return { local, done };
  }

  private async applyLocal(desired: DesiredValue): Promise<void> {
    const { hostsFile, segments } = this.options;
    if (desired.node.segments) await segments.apply(desired.node.segments);
    await this.options.redirects.apply(desired.node.redirects);
    const hosts = configHash(desired.node.hosts);
    if (hostsFile && hosts !== this.hostsWritten) {
      await updateHostsFile(hostsFile, desired.stack, desired.node.hosts);
      this.hostsWritten = hosts;
    }
  }

  private async applyShared(desired: DesiredValue): Promise<void> {
    if (desired.network && this.options.network) await this.options.network.apply(desired.network);
  }
}

/** An apply under way: `local` once instances may start, `done` once all is in place. */
export interface NetworkApply {
  local: Promise<void>;
  done: Promise<void>;
}

const DONE = Promise.resolve();
