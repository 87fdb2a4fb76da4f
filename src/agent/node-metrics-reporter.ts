// Sends the hub this node's metrics (protocol/node-metrics.ts) every NODE_METRICS_EVERY_MS:
// the first soon after the agent starts, then on a timer that never keeps the process
// alive and never runs two collections at once (a slow ping round delays the next).
import type { HostMetrics } from '../system/host-metrics.ts';
import { NODE_METRICS_EVERY_MS, type NodeMetrics } from '../protocol/node-metrics.ts';
import { pingPeers, type MeshPeer } from './mesh-pinger.ts';

/** Soon, but after a CPU sample: the first report's CPU covers this second, not all uptime. */
const FIRST_REPORT_AFTER_MS = 1_000;
/** A peer silent this long is reported unreachable; well inside the reporting interval. */
const PING_TIMEOUT_MS = 2_000;

export interface NodeMetricsReporterOptions {
  send: (metrics: NodeMetrics) => void;
  /** Reads the machine (HostMetricsReader); each reading's CPU covers the time since the last. */
  host: { read(): Promise<HostMetrics> };
  /** The mesh peers now (they change with the desired state). */
  peers: () => MeshPeer[];
  instances: () => NodeMetrics['instances'];
  /** On a gateway node: each route's requests so far. */
  routes?: () => NodeMetrics['routes'];
  log: (line: string) => void;
  everyMs?: number;
  firstAfterMs?: number;
  pingTimeoutMs?: number;
  now?: () => number;
}

export class NodeMetricsReporter {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The last host read error logged, so a node without /proc says so once, not every time. */
  private loggedError: string | undefined;

  constructor(private readonly options: NodeMetricsReporterOptions) {}

  start(): void {
    if (this.stopped || this.timer) return;
    void this.options.host.read().catch(() => {});
    this.schedule(this.options.firstAfterMs ?? FIRST_REPORT_AFTER_MS);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One message's worth, measured now. */
  async collect(): Promise<NodeMetrics> {
    const [host, mesh] = await Promise.all([
      this.options.host.read().then(
        (metrics) => ({ host: metrics }),
        (error: unknown) => ({
          host_error: (error instanceof Error ? error.message : String(error)).slice(0, 200),
        }),
      ),
      pingPeers(this.options.peers(), {
        timeoutMs: this.options.pingTimeoutMs ?? PING_TIMEOUT_MS,
      }),
    ]);
    if ('host_error' in host && host.host_error !== this.loggedError) {
      this.loggedError = host.host_error;
      this.options.log(`node metrics without the host's: ${host.host_error}`);
    }
    const routes = this.options.routes?.();
    return {
      at: (this.options.now ?? Date.now)(),
      ...host,
      mesh,
      instances: this.options.instances(),
      ...(routes === undefined ? {} : { routes }),
    };
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => void this.report(), delayMs);
    this.timer.unref();
  }

  private async report(): Promise<void> {
    const metrics = await this.collect();
    if (this.stopped) return;
    // The bus may be away: this round is lost, the next one says the same and more.
    try {
      this.options.send(metrics);
    } catch (error) {
      this.options.log(`node metrics not sent: ${(error as Error).message}`);
    }
    this.schedule(this.options.everyMs ?? NODE_METRICS_EVERY_MS);
  }
}
