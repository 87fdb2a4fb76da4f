// What the agent tells the hub about its node. A full report goes out whenever what it
// would say changes (debounced, so a burst of changes is one report); otherwise only a
// heartbeat each second with the last report's hash and the hub revisions the node holds.
// An idle node therefore sends one small message a second, whatever the cluster's size.
import type { AgentLink } from '../bus/agent-link.ts';
import type { Held } from '../protocol/hub-inbox.ts';
import { HEARTBEAT_MS } from '../protocol/liveness.ts';
import { reportHash, type NodeStatus } from '../protocol/status.ts';

const REPORT_DEBOUNCE_MS = 20;

export class StatusReporter {
  private timer: NodeJS.Timeout | undefined;
  private heartbeats: NodeJS.Timeout | undefined;
  /** What the last full report said (without its time): a heartbeat carries its hash. */
  private reportedHash = '';
  private closed = false;

  constructor(
    private readonly link: AgentLink,
    private readonly current: () => NodeStatus,
    private readonly held: () => Held,
  ) {}

  start(): void {
    this.heartbeats = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    // Back from a cut: say so at once rather than at the next heartbeat.
    this.link.onReconnect(() => this.heartbeat());
    this.soon();
  }

  soon(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.report();
    }, REPORT_DEBOUNCE_MS);
  }

  /** The next report goes out even if it says nothing new (the hub lost the last one). */
  resend(): void {
    this.reportedHash = '';
    this.report();
  }

  /** The last report: sent now, even if unchanged (the hub takes what it says after `down` as final). */
  final(): void {
    this.close();
    this.reportedHash = '';
    this.link.status(this.current());
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.heartbeats);
  }

  /** A full report, when it says something the last one did not. */
  private report(): void {
    if (this.closed) return;
    const status = this.current();
    const hash = reportHash(status);
    if (hash === this.reportedHash) return;
    this.reportedHash = hash;
    this.link.status(status);
  }

  /** Alive, and what it holds; a change no event announced goes out as a full report instead. */
  private heartbeat(): void {
    if (this.closed) return;
    if (reportHash(this.current()) !== this.reportedHash) {
      this.report();
      return;
    }
    this.link.heartbeat({ status_hash: this.reportedHash, held: this.held() });
  }
}
