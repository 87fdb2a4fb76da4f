// The hub's metrics from a realistic cluster snapshot: values in Prometheus's units and
// labels, one 0/1 series per state, series of what disappeared gone on the next scrape,
// counters set (not added) from the sources' totals, and the whole exposition accepted
// without a complaint by Prometheus's own linter (`promtool check metrics`).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { HubMetrics } from '../../../src/hub/metrics/hub-metrics.ts';
import { clusterSnapshot, NOW } from './cluster-snapshot.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of an exposition text (label values here have no escaped quotes). */
function samples(text: string): Sample[] {
  const parsed: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g))
      labels[key!] = value!;
    parsed.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return parsed;
}

/** The value of the one series of `name` with exactly these labels (and stack="salem"). */
function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = { ...labels, stack: 'salem' };
  const found = samples(text).filter(
    (sample) =>
      sample.name === name &&
      Object.keys(sample.labels).length === Object.keys(wanted).length &&
      Object.entries(wanted).every(([key, text]) => sample.labels[key] === text),
  );
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

const names = (text: string) => new Set(samples(text).map((sample) => sample.name));

function promtool(exposition: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(exposition);
  });
}

describe('the hub metrics of a cluster', () => {
  it('exposes instances, nodes, the mesh, backups, monitors and gateway traffic in seconds, bytes and 0/1', async () => {
    const text = await new HubMetrics().render(clusterSnapshot());
    const api1 = { node: 'compute', service: 'api', instance_id: 'api-1' };
    const api2 = { node: 'compute', service: 'api', instance_id: 'api-2' };
    expect(value(text, 'flotilla_instance_up', api1)).toBe(1);
    expect(value(text, 'flotilla_instance_up', api2)).toBe(0);
    expect(value(text, 'flotilla_instance_state', { ...api2, state: 'backoff' })).toBe(1);
    expect(value(text, 'flotilla_instance_state', { ...api2, state: 'running' })).toBe(0);
    expect(value(text, 'flotilla_instance_healthy', api2)).toBe(0);
    expect(value(text, 'flotilla_instance_restarts_total', api2)).toBe(7);
    expect(value(text, 'flotilla_instance_health_check_duration_seconds', api1)).toBe(0.012);
    expect(value(text, 'flotilla_instance_health_check_duration_seconds', api2)).toBeUndefined();
    expect(value(text, 'flotilla_instance_start_time_seconds', api1)).toBe(NOW / 1000 - 3600);

    expect(value(text, 'flotilla_node_up', { node: 'compute' })).toBe(1);
    expect(value(text, 'flotilla_node_up', { node: 'edge' })).toBe(0);
    expect(value(text, 'flotilla_node_last_report_timestamp_seconds', { node: 'edge' })).toBe(
      NOW / 1000 - 600,
    );
    // The lost node reported no resources: no stale numbers are made up for it.
    expect(value(text, 'flotilla_node_cpu_usage_ratio', { node: 'edge' })).toBeUndefined();
    expect(value(text, 'flotilla_node_cpu_usage_ratio', { node: 'compute' })).toBe(0.375);
    expect(value(text, 'flotilla_node_memory_total_bytes', { node: 'storage' })).toBe(2 ** 31);
    expect(value(text, 'flotilla_node_disk_used_bytes', { node: 'compute' })).toBe(20 * 2 ** 30);
    expect(value(text, 'flotilla_node_load1', { node: 'compute' })).toBe(0.42);
    expect(value(text, 'flotilla_node_load15', { node: 'storage' })).toBe(0.01);
    expect(value(text, 'flotilla_node_uptime_seconds', { node: 'storage' })).toBe(240);
    expect(value(text, 'flotilla_mesh_rtt_seconds', { node: 'compute', peer: 'storage' })).toBe(
      0.0015,
    );
    expect(value(text, 'flotilla_mesh_peer_up', { node: 'compute', peer: 'edge' })).toBe(0);
    expect(value(text, 'flotilla_mesh_rtt_seconds', { node: 'compute', peer: 'edge' })).toBe(
      undefined,
    );

    const postgres = { backup_job: 'postgres', node: 'storage' };
    expect(value(text, 'flotilla_backup_last_success_timestamp_seconds', postgres)).toBe(
      NOW / 1000 - 3600,
    );
    expect(value(text, 'flotilla_backup_last_size_bytes', postgres)).toBe(50 * 2 ** 20);
    expect(value(text, 'flotilla_backup_last_duration_seconds', postgres)).toBe(4.5);
    expect(value(text, 'flotilla_backup_last_verify_success', postgres)).toBe(1);
    const uploads = { backup_job: 'uploads', node: 'compute' };
    expect(value(text, 'flotilla_backup_last_success_timestamp_seconds', uploads)).toBeUndefined();
    expect(value(text, 'flotilla_backup_last_failure_timestamp_seconds', uploads)).toBe(
      NOW / 1000 - 60,
    );

    const states = ['up', 'pending', 'down', 'maintenance', 'unknown'];
    for (const monitor of clusterSnapshot().monitors) {
      const labels = { monitor: monitor.name, kind: monitor.kind };
      expect(value(text, 'flotilla_monitor_up', labels)).toBe(monitor.status === 'up' ? 1 : 0);
      for (const state of states)
        expect(value(text, 'flotilla_monitor_state', { ...labels, state })).toBe(
          state === monitor.status ? 1 : 0,
        );
    }
    const route = { monitor: 'route:api.example.com', kind: 'route' };
    expect(value(text, 'flotilla_monitor_latency_seconds', route)).toBe(0.085);
    expect(value(text, 'flotilla_monitor_uptime_ratio', { ...route, window: '7d' })).toBe(0.999);
    expect(
      value(text, 'flotilla_certificate_expiry_timestamp_seconds', { monitor: route.monitor }),
    ).toBe(NOW / 1000 + 30 * 86_400);

    const gateway = { node: 'compute', route: 'https://api.example.com/' };
    expect(
      value(text, 'flotilla_gateway_requests_total', { ...gateway, status_class: '5xx' }),
    ).toBe(2);
    expect(value(text, 'flotilla_gateway_request_duration_seconds_total', gateway)).toBe(61.5);

    // The hub process's own metrics, under the hub's prefix.
    expect(names(text)).toContain('flotilla_hub_process_resident_memory_bytes');
  });

  it('gives every metric a HELP text and a TYPE', async () => {
    const text = await new HubMetrics().render(clusterSnapshot());
    const types = [...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((match) => match[1]);
    const helps = new Map(
      [...text.matchAll(/^# HELP (\S+) (.*)$/gm)].map((match) => [match[1], match[2]]),
    );
    expect(types.length).toBeGreaterThan(30);
    for (const name of types) expect(helps.get(name), name).toMatch(/\w{3}/);
  });

  it('drops the series of what left the snapshot, and sets counters instead of adding to them', async () => {
    const metrics = new HubMetrics();
    const before = clusterSnapshot();
    await metrics.render(before);
    const after = clusterSnapshot();
    after.instances = after.instances.filter((instance) => instance.instance !== 'api-2');
    after.monitors = after.monitors.filter((monitor) => monitor.name !== 'node:edge');
    after.nodes = after.nodes.filter((node) => node.node !== 'edge');
    const text = await metrics.render(after);

    expect(text).not.toContain('instance_id="api-2"');
    expect(text).not.toContain('monitor="node:edge"');
    expect(text).not.toContain('node="edge",stack');
    expect(value(text, 'flotilla_node_up', { node: 'edge' })).toBeUndefined();
    // The same totals scraped twice read the same, not doubled.
    const api1 = { node: 'compute', service: 'api', instance_id: 'api-1' };
    expect(value(text, 'flotilla_instance_restarts_total', api1)).toBe(2);
    expect(
      value(text, 'flotilla_gateway_requests_total', {
        node: 'compute',
        route: 'https://api.example.com/',
        status_class: '2xx',
      }),
    ).toBe(1200);
  });

  it('passes promtool check metrics without a complaint', async () => {
    const text = await new HubMetrics().render(clusterSnapshot());
    const { code, output } = await promtool(text);
    expect(output).toBe('');
    expect(code).toBe(0);
  });
});
