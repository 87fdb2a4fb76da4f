// Enforces a node's local segments (plan's policy, in the desired state) on this machine:
// makes each native service's cgroup, then loads the stack's output-chain table, rendered
// with where this machine mounts cgroup2. Single node or cluster alike: this table is the
// only firewall `flotilla up` touches, and it matches only processes in Flotilla's cgroups.
// nft turns each cgroup path into an id when the table is loaded, so it is loaded again
// whenever a cgroup's id changes (one made again), not only when the policy does; until
// then the table's catch-all keeps a remade cgroup away from every service port. The same
// table keeps the node's container segments apart (their bridges, by name: no cgroup), so
// a machine without cgroup2 still loads it, with the container chains alone: without them
// containers would reach neither other nodes (no masquerade to the mesh) nor be kept apart.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import {
  CGROUP_ROOT,
  localSegmentsRuleset,
  localSegmentsTable,
  nodeCgroup,
  serviceCgroup,
  type LocalSegments,
} from '../plan/local-segments.ts';
import { configHash } from '../state/config-hash.ts';
import { loadNftScript } from './nftables.ts';
import { cgroup2Mount, ensureCgroup, removeCgroup } from './process/cgroup.ts';

export class SegmentsNotAppliedError extends Error {}

export class SegmentEnforcer {
  /** Why native services' segments cannot be enforced here; undefined when they can. */
  readonly unavailable: string | undefined;
  private readonly mount: string | undefined;
  private readonly root = process.getuid?.() === 0;
  /** Fingerprint of the policy, mount and cgroup ids last loaded. */
  private applied: string | undefined;
  /** Why the last load failed (an earlier table, if any, stays loaded). */
  private failure: string | undefined;

  constructor() {
    this.mount = cgroup2Mount();
    this.unavailable = !this.root
      ? 'the agent does not run as root'
      : this.mount === undefined
        ? 'cgroup2 is not mounted (see /proc/self/mountinfo)'
        : undefined;
  }

  /**
   * The cgroup an instance starts in (the desired state's), when segments are enforced here.
   * Throws until the table is loaded: a service started before it would open connections
   * the table never sees.
   */
  cgroupFor(cgroup: string | undefined): string | undefined {
    if (this.unavailable !== undefined || cgroup === undefined) return undefined;
    if (this.applied === undefined)
      throw new SegmentsNotAppliedError(
        `the segment table of this node is not loaded${this.failure ? `: ${this.failure}` : ' yet'}`,
      );
    return cgroup;
  }

  /**
   * Makes the cgroups and loads the table, unless nothing changed since the last load.
   * Call it before starting instances: a connection opened before the table exists is not
   * cut by it later. A node without native services or containers gets no table.
   */
  async apply(segments: LocalSegments): Promise<void> {
    if (!this.root) return;
    const mount = this.mount;
    // Without cgroup2, native services get no rules (cgroupFor starts them anywhere); the
    // containers' chains need none.
    const enforced = mount === undefined ? { ...segments, services: [] } : segments;
    const ids =
      mount === undefined
        ? []
        : [
            ensureCgroup(mount, CGROUP_ROOT),
            ...segments.services.map(({ service }) =>
              ensureCgroup(mount, serviceCgroup(segments.stack, segments.node, service)),
            ),
          ];
    const hash = configHash({ segments, mount, ids });
    if (hash === this.applied) return;
    try {
      await loadNftScript(
        enforced.services.length === 0 && (enforced.containers ?? []).length === 0
          ? withoutTable(segments.stack)
          : localSegmentsRuleset(enforced, mount),
      );
    } catch (error) {
      this.failure = (error as Error).message;
      throw error;
    }
    this.applied = hash;
    this.failure = undefined;
    if (mount !== undefined)
      this.removeCgroups(segments, new Set(segments.services.map(({ service }) => service)));
  }

  /** Removes the table and, once their processes are gone, this node's service cgroups. */
  async remove(segments: LocalSegments): Promise<void> {
    if (!this.root) return;
    await loadNftScript(withoutTable(segments.stack));
    this.applied = undefined;
    const mount = this.mount;
    if (mount === undefined) return;
    this.removeCgroups(segments, new Set());
    const node = nodeCgroup(segments.stack, segments.node);
    for (const cgroup of [node, path.dirname(node), CGROUP_ROOT]) removeCgroup(mount, cgroup);
  }

  /** Best effort: a cgroup that still holds a process stays, and goes on a later call. */
  private removeCgroups(segments: LocalSegments, keep: ReadonlySet<string>): void {
    const node = nodeCgroup(segments.stack, segments.node);
    let entries;
    try {
      entries = readdirSync(path.join(this.mount!, node), { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.isDirectory() && !keep.has(entry.name))
        removeCgroup(this.mount!, path.join(node, entry.name));
    }
  }
}

/** Deletes the stack's table whether or not it exists, in one nft transaction. */
function withoutTable(stack: string): string {
  const table = localSegmentsTable(stack);
  return `table inet ${table} {}\ndelete table inet ${table}\n`;
}
