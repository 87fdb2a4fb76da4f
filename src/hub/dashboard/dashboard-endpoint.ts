// The dashboard as the stack file asks for it (`dashboard:`): its listener started, moved or
// stopped with each apply, on the hub node's loopback, where that node's gateway proxies
// https://<dashboard.host>/ to it. Restarted only when its port or public origin changes, so
// an apply logs nobody out. The pages and their assets are loaded with the first start: a
// stack without a dashboard never pays for them.
import { httpsOrigin } from '../../plan/https-origin.ts';
import type { Stack } from '../../spec/schema.ts';
import type { BusEvent } from '../../protocol/events.ts';
import type { ApiHandler } from '../api/api-handler.ts';
import type { ApiTokenStore } from '../api/api-tokens.ts';
import type { HttpListener } from '../http-listen.ts';
import { DashboardUsers } from './dashboard-users.ts';
import { startDashboardServer } from './dashboard-server.ts';

export interface DashboardEndpointOptions {
  stateDir: string;
  api: ApiHandler;
  tokens: Pick<ApiTokenStore, 'verify'>;
  audit: (event: BusEvent) => void;
  log: (line: string) => void;
}

/** What a browser's Origin header says for the dashboard: its host and the gateway's port. */
export function dashboardOrigin(stack: Stack): string | undefined {
  const dashboard = stack.dashboard;
  if (!dashboard) return undefined;
  return httpsOrigin(dashboard.host, stack.gateway.https_port);
}

export class DashboardEndpoint {
  private server: HttpListener | undefined;
  private serving = '';
  private users: DashboardUsers | undefined;

  constructor(private readonly options: DashboardEndpointOptions) {}

  async update(stack: Stack): Promise<void> {
    const origin = dashboardOrigin(stack);
    const port = stack.dashboard?.port;
    const wanted = origin === undefined ? '' : JSON.stringify([port, origin]);
    if (wanted === this.serving) return;
    await this.close();
    if (origin === undefined || port === undefined) return;
    const [pages, { assets }] = await Promise.all([
      import('./pages/index.ts'),
      import('./assets/index.ts'),
    ]);
    try {
      this.users ??= await DashboardUsers.open(this.options.stateDir);
      this.server = await startDashboardServer({
        host: '127.0.0.1',
        port,
        api: this.options.api,
        tokens: this.options.tokens,
        users: this.users,
        pages,
        assets,
        origin,
        audit: this.options.audit,
        log: this.options.log,
      });
    } catch (error) {
      // A taken port or a hand-broken users file is the operator's to fix; the rest of the hub
      // goes on without the dashboard.
      this.options.log(
        `the dashboard did not start on 127.0.0.1:${port}: ${(error as Error).message} (free the port or set dashboard.port, then apply)`,
      );
      return;
    }
    this.serving = wanted;
    this.options.log(`the dashboard is at ${origin}/ (listener ${this.server.url})`);
  }

  async close(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
    this.serving = '';
  }
}
