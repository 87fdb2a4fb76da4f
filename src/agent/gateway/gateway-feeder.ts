// On a gateway node, the agent runs Caddy and feeds it the route config the hub computed.
// Configs can arrive faster than Caddy applies them: they are loaded one at a time, always
// the newest, each once (a config Caddy rejected is not retried until a new one comes).
import type { GatewayValue } from '../../protocol/desired.ts';
import type { NodeStatus } from '../../protocol/status.ts';
import { CaddyServer } from './caddy-server.ts';
import { cutConnections } from './cut-connections.ts';

export interface GatewayFeederOptions {
  /** Caddy's state directory. */
  dir: string;
  stack: string;
  event: (type: string, message: string) => void;
  /** The gateway's status changed: report it. */
  changed: () => void;
}

export class GatewayFeeder {
  private readonly caddy: CaddyServer;
  private current: NonNullable<NodeStatus['gateway']> | undefined;
  private wanted: GatewayValue | undefined;
  /** Hash of the last config sent to Caddy, accepted or not. */
  private attempted: string | undefined;
  private loading: Promise<void> | undefined;

  constructor(private readonly options: GatewayFeederOptions) {
    this.caddy = new CaddyServer({ dir: options.dir, stack: options.stack });
    this.caddy.on('restarted', (pid: number) => {
      options.event(
        'gateway.restarted',
        `Caddy died and was restarted (pid ${pid}) with the last routes`,
      );
    });
    this.caddy.on('error', (error: Error) =>
      options.event('gateway.error', `Caddy: ${error.message}`),
    );
  }

  get status(): NodeStatus['gateway'] {
    return this.current;
  }

  async start(): Promise<void> {
    await this.caddy.start();
    this.current = { ca_path: this.caddy.rootCertificatePath };
  }

  load(value: GatewayValue): void {
    this.wanted = value;
    this.loading ??= this.drain().finally(() => (this.loading = undefined));
  }

  /** Leaves Caddy running for the next agent. */
  detach(): void {
    this.caddy.detach();
  }

  stop(): Promise<void> {
    return this.caddy.stop();
  }

  private async drain(): Promise<void> {
    while (this.wanted && this.wanted.hash !== this.attempted) {
      const value = this.wanted;
      this.attempted = value.hash;
      try {
        // Cut before the reload, so no retry of an aborted request is left waiting when the
        // reload lands (Caddy 2.6 answers 502 to those).
        if (value.abandon.length > 0) await cutConnections(value.abandon);
        await this.caddy.load(value.config);
        this.current = { config_hash: value.hash, ca_path: this.caddy.rootCertificatePath };
      } catch (error) {
        const message = withHint(error);
        this.current = { ...this.current, error: message };
        this.options.event('gateway.rejected', message);
      }
      this.options.changed();
    }
  }
}

/** An error's message, and its hint when it has one (a port another stack holds, say). */
function withHint(error: unknown): string {
  const { message, hint } = error as { message: string; hint?: unknown };
  return typeof hint === 'string' ? `${message}\nhint: ${hint}` : message;
}
