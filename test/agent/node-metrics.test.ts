// The agent's side of monitoring on a real bus: it answers the hub's signed `monitor.check`
// by running the check (against a real loopback server), and publishes its node's metrics on
// the hub's metrics subject, where they pass the protocol's schema.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { meshPeers } from '../../src/agent/mesh-pinger.ts';
import { NodeMetricsReporter } from '../../src/agent/node-metrics-reporter.ts';
import { NodeRequestError } from '../../src/bus/hub-link.ts';
import { checkResultSchema } from '../../src/monitoring/check-request.ts';
import { nodeMetricsSchema, type NodeMetrics } from '../../src/protocol/node-metrics.ts';
import type { FromNodeKind } from '../../src/protocol/subjects.ts';
import { HostMetricsReader, type HostMetrics } from '../../src/system/host-metrics.ts';
import { startAgentOnBus, type AgentOnBus } from '../helpers/agent-on-bus.ts';

let bus: AgentOnBus;
let server: http.Server;
let port: number;
const heard: { kind: FromNodeKind; node: string; value: unknown }[] = [];

beforeAll(async () => {
  server = http.createServer((_request, response) => response.end('flotilla is up'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  bus = await startAgentOnBus('b');
  bus.hubLink.listen({
    onMessage: (kind, node, value) => heard.push({ kind, node, value }),
    onInvalid: () => {},
  });
  await bus.hub.flush();
}, 30_000);

afterAll(async () => {
  await bus?.stop();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
}, 30_000);

describe('monitor.check', () => {
  it('runs the check the hub signed and answers with its result', async () => {
    const answer = await bus.hubLink.request('b', 'monitor.check', {
      kind: 'http',
      url: `http://127.0.0.1:${port}/`,
      keyword: 'up',
      timeout_ms: 2_000,
    });
    const result = checkResultSchema.parse(answer);
    expect(result).toMatchObject({ ok: true, status: 200 });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    const tcp = checkResultSchema.parse(
      await bus.hubLink.request('b', 'monitor.check', {
        kind: 'tcp',
        host: '127.0.0.1',
        port,
        timeout_ms: 2_000,
      }),
    );
    expect(tcp.ok).toBe(true);
  });

  it('answers a request the schema refuses with why, not a result', async () => {
    const refused = bus.hubLink.request('b', 'monitor.check', {
      kind: 'http',
      url: `http://127.0.0.1:${port}/`,
      method: 'DELETE',
      timeout_ms: 2_000,
    });
    await expect(refused).rejects.toThrow(NodeRequestError);
    await expect(refused).rejects.toThrow(/invalid check request.*method/s);
  });
});

describe('node metrics', () => {
  it('arrive on the hub soon after the agent starts, from the node, and pass the schema', async () => {
    await expect
      .poll(() => heard.find((message) => message.kind === 'metrics'), { timeout: 10_000 })
      .toBeDefined();
    const message = heard.find((candidate) => candidate.kind === 'metrics')!;
    expect(message.node).toBe('b');
    const metrics = nodeMetricsSchema.parse(message.value);
    expect(metrics.host?.memoryTotalBytes).toBeGreaterThan(0);
    expect(metrics.mesh).toEqual([]);
    expect(metrics.instances).toEqual([]);
  });

  it('ping every mesh peer and stay under 4 KB for 10 peers and 20 instances', async () => {
    const peers = meshPeers({
      firewall: '',
      mesh: {
        interface: 'fl-mon',
        address: '100.96.0.1/16',
        listen_port: 51820,
        peers: Array.from({ length: 10 }, (_, index) => ({
          node: `storage-node-${index}`,
          public_key: 'k',
          endpoint: `203.0.113.${index}:51820`,
          allowed_ips: ['127.0.0.1/32'],
        })),
      },
    });
    const reporter = new NodeMetricsReporter({
      send: () => {},
      host: new HostMetricsReader({ diskPath: bus.dir }),
      peers: () => peers,
      instances: () =>
        Array.from({ length: 20 }, (_, index) => ({
          id: `web-frontend-${index}`,
          health_latency_ms: 12.5,
        })),
      log: () => {},
      now: () => 1_800_000_000_000,
    });
    const metrics: NodeMetrics = nodeMetricsSchema.parse(await reporter.collect());
    expect(metrics.at).toBe(1_800_000_000_000);
    expect(metrics.mesh).toHaveLength(10);
    for (const ping of metrics.mesh) expect(ping.rttMs).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(metrics).length).toBeLessThan(4096);
  });
});

describe('NodeMetricsReporter', () => {
  const HOST: HostMetrics = {
    cpuPercent: 12.5,
    memoryUsedBytes: 1,
    memoryTotalBytes: 2,
    diskUsedBytes: 3,
    diskTotalBytes: 4,
    load1: 0.1,
    load5: 0.2,
    load15: 0.3,
    uptimeSeconds: 60,
  };

  it('reports soon after start, then every interval, and never after stop', async () => {
    vi.useFakeTimers();
    try {
      const sent: NodeMetrics[] = [];
      const reporter = new NodeMetricsReporter({
        send: (metrics) => sent.push(metrics),
        host: { read: () => Promise.resolve(HOST) },
        peers: () => [],
        instances: () => [{ id: 'web-1' }],
        log: () => {},
        firstAfterMs: 1_000,
        everyMs: 15_000,
      });
      reporter.start();
      await vi.advanceTimersByTimeAsync(1_000);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ host: HOST, mesh: [], instances: [{ id: 'web-1' }] });
      await vi.advanceTimersByTimeAsync(15_000);
      expect(sent).toHaveLength(2);
      reporter.stop();
      await vi.advanceTimersByTimeAsync(60_000);
      expect(sent).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("says why the host's metrics are missing, and logs it once", async () => {
    const log: string[] = [];
    const reporter = new NodeMetricsReporter({
      send: () => {},
      host: { read: () => Promise.reject(new Error('no /proc/stat here')) },
      peers: () => [],
      instances: () => [],
      log: (line) => log.push(line),
    });
    const first = nodeMetricsSchema.parse(await reporter.collect());
    await reporter.collect();
    expect(first.host).toBeUndefined();
    expect(first.host_error).toBe('no /proc/stat here');
    expect(log).toEqual(["node metrics without the host's: no /proc/stat here"]);
  });
});
