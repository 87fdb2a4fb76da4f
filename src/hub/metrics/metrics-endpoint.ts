// The metrics endpoint as the stack file asks for it (`monitoring.metrics`): started, moved
// or stopped with each apply, its token rendered from the secret store. Restarted only when
// its port, token or addresses change: a scrape should not notice an apply.
import { renderSecrets } from '../../secrets/render-secrets.ts';
import type { SecretStore } from '../../secrets/store.ts';
import type { Stack } from '../../spec/schema.ts';
import { MetricsListenerError, startMetricsServer, type MetricsServer } from './metrics-server.ts';
import type { MetricsSnapshot } from './metrics-snapshot.ts';

export interface MetricsEndpointOptions {
  secrets: Pick<SecretStore, 'values'>;
  snapshot: () => MetricsSnapshot;
  log: (line: string) => void;
}

export class MetricsEndpoint {
  private server: MetricsServer | undefined;
  private serving = '';

  constructor(private readonly options: MetricsEndpointOptions) {}

  get urls(): string[] {
    return this.server?.urls ?? [];
  }

  /** `hosts`: loopback, and the hub's mesh address in a cluster. */
  async update(stack: Stack, hosts: string[]): Promise<void> {
    const spec = stack.monitoring.metrics;
    const token = spec && (await renderSecrets(spec.token, this.options.secrets));
    if (spec && token === undefined)
      this.options.log(
        'the metrics endpoint is off: the secret its token names is not set (flotilla secrets set it, then apply)',
      );
    const wanted = spec && token ? JSON.stringify([spec.port, token, hosts]) : '';
    if (wanted === this.serving) return;
    await this.close();
    if (!spec || !token) return;
    try {
      this.server = await startMetricsServer({
        hosts,
        port: spec.port,
        token,
        snapshot: this.options.snapshot,
      });
      this.serving = wanted;
      this.options.log(`metrics for Prometheus at ${this.server.urls.join(', ')}`);
    } catch (error) {
      if (!(error instanceof MetricsListenerError)) throw error;
      this.options.log(`the metrics endpoint did not start: ${error.message} (${error.hint})`);
    }
  }

  async close(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
    this.serving = '';
  }
}
