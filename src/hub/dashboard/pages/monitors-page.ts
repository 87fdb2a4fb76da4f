// Every monitor of the stack (routes, instances, nodes, disks, mesh links, backups and the
// declared checks): its state and since when, uptime over 24 h / 7 d / 30 d, latency, and
// its last checks as a chart. Heartbeat ping URLs hold tokens and are not asked for here.
import type { MonitorView } from '../../monitoring/monitoring-service.ts';
import { ago, percent } from './format.ts';
import { html } from './html.ts';
import { apiGet, type Page, type PageContext } from './page-context.ts';
import { badge, dataTable, historyChart } from './parts.ts';

function latency(monitor: MonitorView): string {
  const p95 = monitor.latency?.p95 ?? monitor.latencyMs;
  return p95 === undefined ? '–' : `${Math.round(p95)} ms`;
}

export async function monitorsPage(context: PageContext, now: number): Promise<Page> {
  const { monitors } = await apiGet<{ monitors: MonitorView[] }>(context, '/api/v1/monitors');
  const down = monitors.filter((monitor) => monitor.status === 'down').length;
  const table = dataTable({
    caption: 'Monitors',
    hideCaption: true,
    columns: [
      'Monitor',
      'State',
      'Since',
      'Uptime 24 h',
      '7 d',
      '30 d',
      'Latency p95',
      'Last checks',
    ],
    rows: monitors.map(
      (monitor) =>
        html`<tr data-monitor="${monitor.name}">
          <th scope="row">
            ${monitor.name}${monitor.detail ? html`<br /><span class="muted">${monitor.detail}</span>` : ''}
          </th>
          <td>${badge(monitor.status)}</td>
          <td>${ago(monitor.since, now)}</td>
          <td>${percent(monitor.uptime['24h'])}</td>
          <td>${percent(monitor.uptime['7d'])}</td>
          <td>${percent(monitor.uptime['30d'])}</td>
          <td>${latency(monitor)}</td>
          <td>${historyChart(monitor.recent, monitor.name)}</td>
        </tr>`,
    ),
    empty: 'No monitors yet: they come with the stack once it is applied.',
  });
  const body = html`<div class="page-head">
      <h1>Monitors</h1>
      <p class="summary">${monitors.length} monitors, ${down} down</p>
    </div>
    ${table}`;
  return { title: 'Monitors', body };
}
