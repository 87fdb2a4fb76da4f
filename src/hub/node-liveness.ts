// Which nodes are reporting and which went silent: a node whose status report is stale is
// lost (its instances leave the route table through the registry); the transitions become
// events, so the audit log says which node was lost and when, and when it came back.
import type { NodeStatus } from '../protocol/status.ts';
import { lostNodes } from './registry.ts';

export interface LivenessChange {
  node: string;
  change: 'lost' | 'back';
  /** When the node last reported (lost) or reported again (back), ms since the epoch. */
  at: number;
}

export class NodeLiveness {
  private readonly lost = new Set<string>();

  /** The changes since the last call, given every node's latest report. */
  update(statuses: Iterable<NodeStatus>, now: number): LivenessChange[] {
    const changes: LivenessChange[] = [];
    const all = [...statuses];
    const lost = lostNodes(all, now);
    for (const status of all) {
      const stale = lost.has(status.node);
      if (stale && !this.lost.has(status.node)) {
        this.lost.add(status.node);
        changes.push({ node: status.node, change: 'lost', at: status.at });
      } else if (!stale && this.lost.delete(status.node)) {
        changes.push({ node: status.node, change: 'back', at: status.at });
      }
    }
    return changes;
  }

  forget(node: string): void {
    this.lost.delete(node);
  }
}
