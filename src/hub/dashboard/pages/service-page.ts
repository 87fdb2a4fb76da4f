// A service: its instances on each node (state, health, restarts, since when), its health
// history (the instance monitors' last checks), the tail of its logs (followed live by the
// script through the API's log stream) and, for an operator, a Restart button.
import { ApiError } from '../../api/api-route.ts';
import type { MonitorView } from '../../monitoring/monitoring-service.ts';
import type { StatusReport } from '../../status-report.ts';
import { ago, percent } from './format.ts';
import { html, segment } from './html.ts';
import { apiGet, param, type Page, type PageContext } from './page-context.ts';
import { actionButton, badge, dataTable, historyChart, may } from './parts.ts';

export const LOG_LINES = 100;

export async function servicePage(context: PageContext, now: number): Promise<Page> {
  const name = param(context, 'name');
  const status = await apiGet<StatusReport | null>(context, '/api/v1/status');
  const instances = (status?.instances ?? []).filter((instance) => instance.service === name);
  if (instances.length === 0) throw new ApiError(404, `no service named ${name} is running`);
  const [logs, monitors] = await Promise.all([
    apiGet<{ lines: string[] }>(
      context,
      `/api/v1/services/${segment(name)}/logs`,
      new URLSearchParams({ lines: String(LOG_LINES) }),
    ),
    apiGet<{ monitors: MonitorView[] }>(context, '/api/v1/monitors').then(
      (answer) => answer.monitors.filter((monitor) => monitor.service === name),
      // Without monitoring the page still shows the rest.
      () => [],
    ),
  ]);
  const healthy = instances.filter((instance) => instance.healthy).length;
  const restart = may(context.api, context.principal, 'POST', '/api/v1/services/:name/restart')
    ? actionButton({
        action: `/services/${segment(name)}/restart`,
        label: 'Restart',
        csrf: context.csrf,
        confirm: `Restart every instance of ${name}, one at a time?`,
      })
    : undefined;
  const instanceTable = dataTable({
    caption: `Instances of ${name}`,
    hideCaption: true,
    columns: ['Instance', 'Node', 'State', 'Health', 'Restarts', 'Started', 'PID'],
    rows: instances.map(
      (instance) =>
        html`<tr data-instance="${instance.id}">
          <th scope="row">${instance.id}</th>
          <td>${instance.node}</td>
          <td data-field="state">
            ${badge(instance.state)}${instance.reason ? html` <span class="muted">${instance.reason}</span>` : ''}
          </td>
          <td data-field="health">
            ${badge(instance.healthy ? 'healthy' : 'unhealthy')}
            <span class="muted">${instance.health_detail}</span>
          </td>
          <td data-field="restarts">${instance.restarts}</td>
          <td data-field="started">${ago(instance.started_at, now)}</td>
          <td data-field="pid">${instance.pid ?? '–'}</td>
        </tr>`,
    ),
    empty: 'No instances.',
  });
  const historyTable = dataTable({
    caption: `Health checks of ${name}'s instances`,
    hideCaption: true,
    columns: ['Monitor', 'State', 'Uptime 24 h', 'Last checks'],
    rows: monitors.map(
      (monitor) =>
        html`<tr>
          <th scope="row">${monitor.name}</th>
          <td>${badge(monitor.status)}</td>
          <td>${percent(monitor.uptime['24h'])}</td>
          <td>${historyChart(monitor.recent, monitor.name)}</td>
        </tr>`,
    ),
    empty: 'No health checks recorded for this service yet.',
  });
  const body = html`<div class="page-head">
      <h1>${name}</h1>
      <p class="summary" data-live="service-health" data-service="${name}">
        ${healthy} of ${instances.length} instances healthy
      </p>
      ${restart}
    </div>
    <section aria-labelledby="instances-heading">
      <h2 id="instances-heading">Instances</h2>
      ${instanceTable}
    </section>
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">Health history</h2>
      ${historyTable}
    </section>
    <section aria-labelledby="logs-heading">
      <h2 id="logs-heading">Logs</h2>
      <p class="muted" id="logs-note">The last ${LOG_LINES} lines of every instance.</p>
      <pre
        class="logs"
        tabindex="0"
        aria-describedby="logs-note"
        data-follow="/api/v1/services/${segment(name)}/logs/follow"
      >
${logs.lines.join('\n')}</pre>
    </section>`;
  return { title: name, body };
}
