// `flotilla monitors`: every monitor of the running stack — the derived ones (routes,
// instances, nodes, disks, mesh links, backups) and the declared ones — with its state,
// since when, uptime over 24 h / 7 d / 30 d, latency and its last results as a sparkline.
import type { MonitorView } from '../../hub/monitoring/monitoring-service.ts';
import { upDownLine } from '../../hub/monitoring/sparkline.ts';
import type { CommandSpec } from '../command.ts';
import { HubRequestFailed } from '../hub-client.ts';
import { table, toJson, writeLine, type Output } from '../output.ts';
import { connectRunningStack } from '../running-stack.ts';

type Listed = MonitorView & { push?: { healthchecks: string; kuma: string } };

const SPARK_WIDTH = 20;

function percent(fraction: number | undefined): string {
  if (fraction === undefined) return '-';
  return fraction === 1 ? '100%' : `${(fraction * 100).toFixed(2)}%`;
}

function ago(at: number | undefined, now: number): string {
  if (at === undefined) return '-';
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

function latency(monitor: Listed): string {
  const p95 = monitor.latency?.p95;
  if (p95 !== undefined) return `${Math.round(p95)}ms`;
  return monitor.latencyMs === undefined ? '-' : `${Math.round(monitor.latencyMs)}ms`;
}

export const monitorsCommand: CommandSpec = {
  usage: 'flotilla monitors [name-or-prefix*] [--urls] [-f flotilla.yml] [--json]',
  options: {
    file: { type: 'string', short: 'f' },
    urls: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: ['[name]'],
  async run({ values, positionals }, output: Output) {
    const running = await connectRunningStack(values.file as string | undefined, output);
    if (!running) return 1;
    let monitors: Listed[];
    try {
      ({ monitors } = await running.client.get<{ monitors: Listed[] }>(
        `/api/v1/monitors${values.urls === true ? '?urls=1' : ''}`,
      ));
    } catch (error) {
      if (!(error instanceof HubRequestFailed)) throw error;
      writeLine(output.err, `flotilla monitors: ${error.message}`);
      return 1;
    }
    const pattern = positionals[0];
    if (pattern !== undefined)
      monitors = monitors.filter((monitor) =>
        pattern.endsWith('*')
          ? monitor.name.startsWith(pattern.slice(0, -1))
          : monitor.name === pattern,
      );
    if (values.json === true) {
      writeLine(output.out, toJson(monitors));
      return 0;
    }
    if (monitors.length === 0) {
      writeLine(
        output.out,
        pattern === undefined ? 'no monitors' : `no monitor matches ${pattern}`,
      );
      return pattern === undefined ? 0 : 1;
    }
    const { color } = output;
    const paint: Record<string, (text: string) => string> = {
      up: color.green,
      down: color.red,
      pending: color.yellow,
      maintenance: color.blue,
      unknown: color.dim,
    };
    const now = Date.now();
    const rows = monitors.map((monitor) => [
      monitor.name,
      paint[monitor.status]!(monitor.status.toUpperCase()),
      ago(monitor.since, now),
      percent(monitor.uptime['24h']),
      percent(monitor.uptime['7d']),
      percent(monitor.uptime['30d']),
      latency(monitor),
      upDownLine(monitor.recent, SPARK_WIDTH),
      monitor.detail ?? '',
    ]);
    writeLine(
      output.out,
      table(
        [
          ['MONITOR', 'STATE', 'SINCE', '24H', '7D', '30D', 'P95', 'LAST CHECKS', 'DETAIL'],
          ...rows,
        ],
        color.bold,
      ),
    );
    for (const monitor of monitors)
      if (monitor.push)
        writeLine(
          output.out,
          `\n${monitor.name} pings (keep them secret):\n  ${monitor.push.healthchecks}\n  ${monitor.push.kuma}`,
        );
    return 0;
  },
};
