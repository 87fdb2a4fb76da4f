// Per-route request metrics on a gateway: a real Caddy, fed by the agent's GatewayFeeder, writes
// its access log to the agent's socket, and the agent counts each request under its route (the
// host's longest prefix) and status class, without ever seeing a query string. Plus the
// attribution rules alone, on lines written by hand.
import { readFile, chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readRootCertificate } from '../../../src/agent/gateway/caddy-server.ts';
import { GatewayFeeder } from '../../../src/agent/gateway/gateway-feeder.ts';
import { RouteTraffic, UNROUTED } from '../../../src/agent/gateway/route-traffic.ts';
import {
  caddyConfig,
  gatewayState,
  hasAccessLog,
  servedRoutes,
  withAccessLog,
} from '../../../src/plan/caddy.ts';
import type { RouteEntry } from '../../../src/plan/routes.ts';
import type { Hub } from '../../../src/hub/hub.ts';
import { HubMetrics } from '../../../src/hub/metrics/hub-metrics.ts';
import { hubSnapshot } from '../../../src/hub/metrics/hub-snapshot.ts';
import type { MonitoringService } from '../../../src/hub/monitoring/monitoring-service.ts';
import { instanceLogFile } from '../../../src/agent/process/log-files.ts';
import { nodeMetricsSchema } from '../../../src/protocol/node-metrics.ts';
import { gatewayRequestOnceIssued } from '../../helpers/https-get.ts';
import { freePort } from '../../helpers/ports.ts';

function route(host: string, backend: number, path?: string): RouteEntry {
  return {
    host,
    ...(path === undefined ? {} : { path }),
    service: 'web',
    port: 'http',
    strip_prefix: false,
    tls: 'internal',
    upstreams: [{ instance: 'web-1', node: 'local', dial: `127.0.0.1:${backend}` }],
    fallback: [`127.0.0.1:${backend}`],
  };
}

describe('attributing access log lines to routes', () => {
  let dir: string;
  let traffic: RouteTraffic;
  const options = { httpPort: 8080, httpsPort: 8443 };
  const line = (host: string, uri: string, status: number, duration = 0.25) =>
    JSON.stringify({ request: { host, uri }, status, duration });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-traffic-'));
    traffic = await RouteTraffic.listen(path.join(dir, 'access.sock'));
  });
  afterAll(async () => {
    await traffic.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads back the routes a config serves, as flotilla status shows them', () => {
    const served = servedRoutes(
      caddyConfig([route('a.localhost', 1), route('a.localhost', 1, '/api')], options),
    );
    expect(served).toEqual([
      { host: 'a.localhost', path: '/api', url: 'https://a.localhost:8443/api' },
      { host: 'a.localhost', url: 'https://a.localhost:8443/' },
    ]);
    expect(servedRoutes({ apps: {} })).toEqual([]);
  });

  it('logs requests only when the stack turns route metrics on, to the agent where it does', () => {
    const off = caddyConfig([route('a.localhost', 1)], options);
    expect(hasAccessLog(off)).toBe(false);
    expect(withAccessLog(off, '/run/access.sock')).toBe(off);
    const on = caddyConfig([route('a.localhost', 1)], { ...options, routeMetrics: true });
    expect(JSON.stringify(on.logging)).toContain('"output":"discard"');
    const local = withAccessLog(on, '/run/access.sock');
    expect(JSON.stringify(local)).toContain('"address":"unix//run/access.sock"');
    expect(JSON.stringify(local)).not.toContain('discard');
  });

  it('counts a line under the longest prefix, whole path segments only', () => {
    traffic.serve(
      servedRoutes(
        caddyConfig(
          [route('a.localhost', 1), route('a.localhost', 1, '/api'), route('b.localhost', 1, '/x')],
          options,
        ),
      ),
    );
    traffic.record(line('A.localhost:8443', '/api', 200));
    traffic.record(line('a.localhost', '/API/v1/users', 503));
    traffic.record(line('a.localhost', '/apix', 301));
    traffic.record(line('b.localhost', '/y', 404));
    traffic.record(line('c.localhost', '/', 404));
    traffic.record('not json');
    traffic.record(line('a.localhost', '/', 0));
    expect(traffic.report()).toEqual([
      {
        route: 'https://a.localhost:8443/api',
        requests: { '2xx': 1, '5xx': 1 },
        duration_seconds: 0.5,
      },
      { route: 'https://a.localhost:8443/', requests: { '3xx': 1 }, duration_seconds: 0.25 },
      { route: UNROUTED, requests: { '4xx': 2 }, duration_seconds: 0.5 },
    ]);
    // A route no longer served takes its counts with it.
    traffic.serve(servedRoutes(caddyConfig([route('a.localhost', 1)], options)));
    expect(traffic.report().map((entry) => entry.route)).toEqual([
      'https://a.localhost:8443/',
      UNROUTED,
    ]);
  });
});

describe('a gateway counting its requests per route (real Caddy)', () => {
  let dir: string;
  let feeder: GatewayFeeder;
  let backend: http.Server;
  let httpsPort: number;
  const events: string[] = [];
  /** Every access log line the agent read. */
  const lines: string[] = [];

  beforeAll(async () => {
    backend = http.createServer((request, response) => {
      response.statusCode = request.url?.startsWith('/api/missing') ? 404 : 200;
      response.end('ok');
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const backendPort = (backend.address() as { port: number }).port;
    const record = RouteTraffic.prototype.record;
    vi.spyOn(RouteTraffic.prototype, 'record').mockImplementation(function (
      this: RouteTraffic,
      line,
    ) {
      lines.push(line);
      record.call(this, line);
    });
    dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-traffic-'));
    // Caddy's user must get through it to its own directories.
    await chmod(dir, 0o711);
    feeder = new GatewayFeeder({
      dir: path.join(dir, 'caddy'),
      stack: 'traffic-test',
      event: (type, message) => events.push(`${type}: ${message}`),
      changed: () => {},
    });
    await feeder.start();
    httpsPort = await freePort();
    const routes = [
      route('a.localhost', backendPort),
      route('a.localhost', backendPort, '/api'),
      route('b.localhost', backendPort, '/app'),
    ];
    const { config, upstreams } = gatewayState(routes, () => true, {
      httpPort: await freePort(),
      httpsPort,
      routeMetrics: true,
    });
    feeder.load({ hash: 'v1', config, upstreams, abandon: [] });
    await vi.waitFor(() => expect(feeder.status?.config_hash ?? feeder.status?.error).toBe('v1'), {
      timeout: 15_000,
    });
  }, 30_000);

  afterAll(async () => {
    await feeder?.stop();
    await new Promise((resolve) => backend?.close(resolve));
    await rm(dir, { recursive: true, force: true });
    vi.restoreAllMocks();
  });

  it('counts requests to two routes by status class, without their query strings', async () => {
    const ca = await readRootCertificate({
      rootCertificatePath: feeder.status!.ca_path!,
    });
    const get = async (host: string, requestPath: string): Promise<number> =>
      (await gatewayRequestOnceIssued({ host, path: requestPath, ca, port: httpsPort })).status;
    expect(await get('a.localhost', '/')).toBe(200);
    expect(await get('a.localhost', '/page?token=SECRET-1')).toBe(200);
    expect(await get('a.localhost', '/api/missing?token=SECRET-2')).toBe(404);
    expect(await get('a.localhost', '/api/users')).toBe(200);
    expect(await get('b.localhost', '/app/x')).toBe(200);
    expect(await get('b.localhost', '/elsewhere')).toBe(404);

    const base = `https://a.localhost:${httpsPort}`;
    const expected = [
      [`${base}/`, { '2xx': 2 }],
      [`${base}/api`, { '2xx': 1, '4xx': 1 }],
      [`https://b.localhost:${httpsPort}/app`, { '2xx': 1 }],
      [UNROUTED, { '4xx': 1 }],
    ];
    const counted = () =>
      Object.fromEntries((feeder.traffic() ?? []).map((entry) => [entry.route, entry.requests]));
    await vi.waitFor(() => expect(counted()).toEqual(Object.fromEntries(expected)), {
      timeout: 10_000,
    });
    const report = feeder.traffic()!;
    for (const entry of report) expect(entry.duration_seconds).toBeGreaterThan(0);
    // The node metrics message carries it and passes its schema.
    const message = nodeMetricsSchema.parse({ at: 1, mesh: [], instances: [], routes: report });
    expect(message.routes).toHaveLength(4);
    // The hub exports it (a stand-in hub holding only this message: hubSnapshot reads no more).
    const hub = {
      stack: undefined,
      lostNodes: () => new Set(),
      nodeStatuses: () => new Map(),
      nodeMetrics: () => new Map([['gw', { ...message, receivedAt: 1 }]]),
    } as unknown as Hub;
    const monitoring = { backupJobs: () => [], list: () => [] } as unknown as MonitoringService;
    const text = await new HubMetrics().render(hubSnapshot(hub, monitoring));
    expect(text).toContain(
      `flotilla_gateway_requests_total{node="gw",route="${base}/api",status_class="4xx",stack=""} 1`,
    );
    // One load: the access log is part of the route config, not a reload of its own.
    expect(feeder.loads).toBe(1);
    expect(events).toEqual([]);
    // The query never leaves Caddy: not in what the agent reads, nor in Caddy's own log.
    expect(lines.join('\n')).toContain('/api/missing');
    expect(lines.join('\n')).not.toContain('SECRET');
    expect(await readFile(instanceLogFile(path.join(dir, 'caddy'), 'caddy'), 'utf8')).not.toContain(
      'SECRET',
    );
  });

  it('keeps the socket to Caddy and root', async () => {
    const socket = path.join(dir, 'caddy', 'admin', 'access.sock');
    const info = await stat(socket);
    const owner = await stat(path.dirname(socket));
    expect(info.mode & 0o777).toBe(0o600);
    expect(info.uid).toBe(owner.uid);
    expect(owner.mode & 0o777).toBe(0o700);
  });
});
