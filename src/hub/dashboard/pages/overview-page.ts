// The stack at a glance: each node (up, its CPU, memory and disk from the agent's metrics,
// its monthly cost when the stack file names one), each service with how many of its
// instances are healthy, and the most recent events of the audit log. The script keeps the
// services and events current from the API's event stream.
import type { NodeOverview } from '../../node-overview.ts';
import type { BusEvent } from '../../../protocol/events.ts';
import type { StatusReport } from '../../status-report.ts';
import { ago, money, usage } from './format.ts';
import { html, segment, type SafeHtml } from './html.ts';
import { apiGet, type Page, type PageContext } from './page-context.ts';
import { badge, dataTable } from './parts.ts';

export const RECENT_EVENTS = 20;

/** One node as the API's node list gives it. */

interface ServiceRow {
  name: string;
  healthy: number;
  total: number;
  nodes: string[];
}

function services(status: StatusReport): ServiceRow[] {
  const rows = new Map<string, ServiceRow>();
  for (const instance of status.instances) {
    const row = rows.get(instance.service) ?? {
      name: instance.service,
      healthy: 0,
      total: 0,
      nodes: [],
    };
    row.total += 1;
    if (instance.healthy) row.healthy += 1;
    if (!row.nodes.includes(instance.node)) row.nodes.push(instance.node);
    rows.set(instance.service, row);
  }
  return [...rows.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function eventItem(event: BusEvent, now: number): SafeHtml {
  return html`<li>
    <span class="event-type">${event.type}</span> ${ago(event.at, now)}<br />${event.message}
  </li>`;
}

function nodesTable(nodes: NodeOverview[], now: number): SafeHtml {
  return dataTable({
    caption: 'Nodes',
    columns: ['Node', 'State', 'CPU', 'Memory', 'Disk', 'Monthly cost', 'Last report'],
    rows: nodes.map(
      (node) =>
        html`<tr>
          <th scope="row">${node.node}</th>
          <td>${badge(node.up ? 'up' : 'down')}</td>
          <td>${node.host ? `${Math.round(node.host.cpuPercent)} %` : '–'}</td>
          <td>${usage(node.host?.memoryUsedBytes, node.host?.memoryTotalBytes)}</td>
          <td>${usage(node.host?.diskUsedBytes, node.host?.diskTotalBytes)}</td>
          <td>${node.cost ? money(node.cost.monthly, node.cost.currency) : '–'}</td>
          <td>${ago(node.reported_at, now)}</td>
        </tr>`,
    ),
    empty: 'The stack has no node.',
  });
}

function servicesTable(rows: ServiceRow[]): SafeHtml {
  return dataTable({
    caption: 'Services',
    columns: ['Service', 'Health', 'Healthy instances', 'Nodes'],
    rows: rows.map(
      (row) =>
        html`<tr data-service="${row.name}">
          <th scope="row"><a href="/services/${segment(row.name)}">${row.name}</a></th>
          <td>
            ${badge(row.healthy === row.total ? 'healthy' : row.healthy === 0 ? 'down' : 'degraded')}
          </td>
          <td data-field="healthy">${row.healthy}/${row.total}</td>
          <td>${row.nodes.join(', ')}</td>
        </tr>`,
    ),
    empty: 'The stack runs no service.',
  });
}

export async function overviewPage(context: PageContext, now: number): Promise<Page> {
  const [status, nodes, events] = await Promise.all([
    apiGet<StatusReport | null>(context, '/api/v1/status'),
    apiGet<{ nodes: NodeOverview[] }>(context, '/api/v1/nodes/overview').then(
      (answer) => answer.nodes,
      () => undefined,
    ),
    apiGet<{ events: BusEvent[] }>(
      context,
      '/api/v1/events/recent',
      new URLSearchParams({ limit: String(RECENT_EVENTS) }),
    ).then(
      (answer) => answer.events,
      () => [],
    ),
  ]);
  if (status === null)
    return {
      title: 'Overview',
      body: html`<h1>Overview</h1>
        <p class="empty">
          No stack is applied yet: run <code>flotilla up</code> or <code>flotilla apply</code>.
        </p>`,
    };
  const rows = services(status);
  const healthy = status.instances.filter((instance) => instance.healthy).length;
  const nodeRows =
    nodes ?? Object.entries(status.nodes).map(([node, state]) => ({ node, ...state, cost: null }));
  const body = html` <div class="page-head">
      <h1>Stack ${status.stack}</h1>
      <p class="summary" data-live="stack-health">
        ${status.ready ? badge('healthy') : badge('converging')} ${healthy} of
        ${status.instances.length} instances healthy
      </p>
    </div>
    <section aria-label="Nodes">${nodesTable(nodeRows, now)}</section>
    <section aria-label="Services">${servicesTable(rows)}</section>
    <section aria-labelledby="events-heading">
      <h2 id="events-heading">Recent events</h2>
      <ol class="events" data-live="events" reversed>
        ${[...events].reverse().map((event) => eventItem(event, now))}
      </ol>
      ${events.length === 0 ? html`<p class="empty" data-live="no-events">No events yet.</p>` : ''}
    </section>`;
  return { title: 'Overview', body };
}
