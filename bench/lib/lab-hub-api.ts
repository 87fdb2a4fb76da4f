// The hub's API as a lab bench sees it. The hub listens on loopback inside its node's
// namespace, which this process cannot enter, so each call is a curl run there (a few ms of
// CPU, where a `flotilla status` CLI costs about a second); the token travels in a 0600
// header file, never on an argv.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { readEndpoint } from '../../src/hub/api-endpoint.ts';
import type { StatusReport } from '../../src/hub/status-report.ts';
import type { LabCluster } from '../../test/helpers/lab-cluster.ts';
import { sleep } from './stack.ts';

const countSchema = z.object({ messages: z.number(), bytes: z.number() });
const trafficSchema = z.record(z.string(), countSchema);
/** `GET /api/v1/bus`: what the protocol carried each way since the hub started, per kind. */
export const busTrafficSchema = z.object({ received: trafficSchema, sent: trafficSchema });
export type BusTraffic = z.infer<typeof busTrafficSchema>;

export class LabHubApi {
  private constructor(
    private readonly cluster: LabCluster,
    private readonly node: string,
    private readonly url: string,
    private readonly headerFile: string,
    /** The hub daemon's PID (it also runs the hub node's agent). */
    readonly pid: number,
  ) {}

  static async open(cluster: LabCluster, node = cluster.nodes[0]!): Promise<LabHubApi> {
    const endpoint = await readEndpoint(cluster.stateDir(node));
    if (!endpoint) throw new Error(`no hub API endpoint under ${cluster.stateDir(node)}`);
    const headerFile = path.join(cluster.dir, 'hub-api.header');
    await writeFile(headerFile, `authorization: Bearer ${endpoint.token}\n`, { mode: 0o600 });
    return new LabHubApi(cluster, node, endpoint.url, headerFile, endpoint.pid);
  }

  async get(apiPath: string): Promise<unknown> {
    const result = await this.cluster.exec(
      this.node,
      [
        'curl',
        '-sS',
        '--fail-with-body',
        '--max-time',
        '5',
        '-H',
        `@${this.headerFile}`,
        `${this.url}${apiPath}`,
      ],
      10_000,
    );
    if (result.code !== 0)
      throw new Error(
        `GET ${apiPath} failed (curl exit ${result.code}): ${result.stderr}${result.stdout}`,
      );
    return JSON.parse(result.stdout) as unknown;
  }

  /** `GET /api/v1/status`: the report `flotilla status --json` prints. */
  async status(): Promise<StatusReport> {
    return (await this.get('/api/v1/status')) as StatusReport;
  }

  async bus(): Promise<BusTraffic> {
    return busTrafficSchema.parse(await this.get('/api/v1/bus'));
  }

  /** Polls the status every `everyMs` until `check` passes; throws with the last report. */
  async until(
    check: (report: StatusReport) => boolean,
    timeoutMs: number,
    everyMs = 100,
  ): Promise<StatusReport> {
    const deadline = performance.now() + timeoutMs;
    let last: StatusReport | undefined;
    for (;;) {
      last = await this.status().catch(() => last);
      if (last && check(last)) return last;
      if (performance.now() > deadline)
        throw new Error(`status condition not met within ${timeoutMs} ms; last: ${brief(last)}`);
      await sleep(everyMs);
    }
  }
}

/** What is not ready in a report, in one line. */
export function brief(report: StatusReport | undefined): string {
  if (!report) return 'no status';
  const down = Object.entries(report.nodes)
    .filter(([, node]) => !node.up)
    .map(([name]) => name);
  const unhealthy = report.instances.filter((instance) => !instance.healthy);
  const partial = report.routes.filter((route) => route.healthy !== route.total);
  const outOfSync = Object.entries(report.gateways)
    .filter(([, gateway]) => !gateway.in_sync)
    .map(([name, gateway]) => `${name}${gateway.error ? ` (${gateway.error})` : ''}`);
  return [
    `ready ${report.ready}`,
    `nodes down: ${down.join(', ') || 'none'}`,
    `unhealthy ${unhealthy.length}/${report.instances.length}${
      unhealthy.length
        ? ` (${unhealthy
            .slice(0, 5)
            .map(
              (instance) =>
                `${instance.id} ${instance.state}: ${instance.reason ?? instance.health_detail}`,
            )
            .join('; ')})`
        : ''
    }`,
    `routes incomplete ${partial.length}/${report.routes.length}`,
    `gateways out of sync: ${outOfSync.join(', ') || 'none'}`,
  ].join('; ');
}
