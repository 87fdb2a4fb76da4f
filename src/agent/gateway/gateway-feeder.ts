// On a gateway node, the agent runs Caddy and feeds it the route config the hub computed, and
// answers Caddy's lookups of which instances serve each route (upstream-dns.ts). Values can
// arrive faster than Caddy applies them: they are applied one at a time, always the newest,
// each once (a config Caddy rejected is not retried until a new one comes). A new set of
// healthy instances only updates the responder; Caddy is loaded only when its config changed.
// With route metrics on, Caddy's access log comes back to the agent, which counts requests per
// route (route-traffic.ts).
import { readFile, writeFile } from 'node:fs/promises';
import { hasAccessLog, localizeGateway, servedRoutes, withAccessLog } from '../../plan/caddy.ts';
import type { GatewayValue } from '../../protocol/desired.ts';
import type { RouteTrafficMetrics } from '../../protocol/node-metrics.ts';
import type { NodeStatus } from '../../protocol/status.ts';
import { configHash } from '../../state/config-hash.ts';
import { CaddyServer } from './caddy-server.ts';
import { cutConnections } from './cut-connections.ts';
import { accessLogSocketPath, RouteTraffic } from './route-traffic.ts';
import { UpstreamDns, upstreamPortFile } from './upstream-dns.ts';

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
  private dns: UpstreamDns | undefined;
  /** Undefined when its socket could not be opened: Caddy then serves without an access log. */
  private routeTraffic: RouteTraffic | undefined;
  /** The config last sent to Caddy logs requests (the stack turned route metrics on). */
  private accessLogged = false;
  private current: NonNullable<NodeStatus['gateway']> | undefined;
  private wanted: GatewayValue | undefined;
  /** Hash of the last value applied, accepted or not. */
  private attempted: string | undefined;
  /** Hash of the last config sent to Caddy, accepted or not. */
  private attemptedConfig: string | undefined;
  private loading: Promise<void> | undefined;
  /** Why Caddy refused the last config, while it does. */
  private rejected: string | undefined;
  /** Configs POSTed to Caddy's `/load`: tests and the bench count them. */
  loads = 0;

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
    // The same port as the previous agent's when free: the Caddy it left running asks there.
    const portFile = upstreamPortFile(this.options.dir);
    const previous = Number(await readFile(portFile, 'utf8').catch(() => '0'));
    this.dns = await UpstreamDns.start(Number.isInteger(previous) ? previous : 0);
    await this.caddy.start();
    await writeFile(portFile, `${this.dns.port}\n`);
    try {
      this.routeTraffic = await RouteTraffic.listen(accessLogSocketPath(this.options.dir));
    } catch (error) {
      this.options.event(
        'gateway.error',
        `no per-route request metrics: ${(error as Error).message}`,
      );
    }
    this.current = { ca_path: this.caddy.rootCertificatePath };
  }

  /** Caddy's pid: the next agent adopts the same process. */
  get caddyPid(): number | undefined {
    return this.caddy.pid;
  }

  /** How many lookups the responder answered, by outcome. */
  get lookups(): UpstreamDns['answered'] | undefined {
    return this.dns?.answered;
  }

  /** Each route's requests since this agent started; undefined without the access log. */
  traffic(): RouteTrafficMetrics[] | undefined {
    return this.accessLogged ? this.routeTraffic?.report() : undefined;
  }

  load(value: GatewayValue): void {
    this.wanted = value;
    this.loading ??= this.drain().finally(() => (this.loading = undefined));
  }

  /** Leaves Caddy running for the next agent. */
  detach(): void {
    this.caddy.detach();
    void this.dns?.close();
    void this.routeTraffic?.close();
  }

  async stop(): Promise<void> {
    await this.caddy.stop();
    await this.dns?.close();
    await this.routeTraffic?.close();
  }

  private async drain(): Promise<void> {
    while (this.wanted && this.wanted.hash !== this.attempted) {
      const value = this.wanted;
      this.attempted = value.hash;
      // The sets first: a route a new config adds must resolve as soon as it serves.
      this.dns?.update(value.upstreams);
      // After the sets: the aborted requests are retried on the instances left.
      if (value.abandon.length > 0) await cutConnections(value.abandon);
      const config = configHash(value.config);
      if (config !== this.attemptedConfig) {
        this.attemptedConfig = config;
        this.loads += 1;
        this.accessLogged = this.routeTraffic !== undefined && hasAccessLog(value.config);
        this.routeTraffic?.serve(this.accessLogged ? servedRoutes(value.config) : []);
        const local = localizeGateway(value.config, this.dns!.address);
        try {
          await this.caddy.load(
            this.routeTraffic ? withAccessLog(local, this.routeTraffic.socket) : local,
          );
          this.rejected = undefined;
        } catch (error) {
          this.rejected = withHint(error);
          this.options.event('gateway.rejected', this.rejected);
        }
      }
      // A rejected config stays the error until a new one loads, whatever sets come meanwhile.
      this.current =
        this.rejected === undefined
          ? { config_hash: value.hash, ca_path: this.caddy.rootCertificatePath }
          : { ...this.current, error: this.rejected };
      this.options.changed();
    }
  }
}

/** An error's message, and its hint when it has one (a port another stack holds, say). */
function withHint(error: unknown): string {
  const { message, hint } = error as { message: string; hint?: unknown };
  return typeof hint === 'string' ? `${message}\nhint: ${hint}` : message;
}
