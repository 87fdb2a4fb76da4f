// The stack's public entries: each route's URL, the service behind it and how many of its
// upstreams are healthy, and whether each gateway serves the config the hub last computed.
import type { StatusReport } from '../../status-report.ts';
import { html, segment } from './html.ts';
import { apiGet, type Page, type PageContext } from './page-context.ts';
import { badge, dataTable } from './parts.ts';

export async function routesPage(context: PageContext): Promise<Page> {
  const status = await apiGet<StatusReport | null>(context, '/api/v1/status');
  const routes = dataTable({
    caption: 'Routes through the gateway',
    columns: ['URL', 'Service', 'Healthy upstreams'],
    rows: (status?.routes ?? []).map(
      (route) =>
        html`<tr>
          <th scope="row"><a href="${route.url}">${route.url}</a></th>
          <td><a href="/services/${segment(route.service)}">${route.service}</a></td>
          <td>
            ${badge(route.healthy === 0 ? 'down' : route.healthy === route.total ? 'up' : 'degraded')}
            ${route.healthy}/${route.total}
          </td>
        </tr>`,
    ),
    empty: 'The stack declares no route.',
  });
  const gateways = dataTable({
    caption: 'Gateways',
    columns: ['Node', 'Config', 'Error'],
    rows: Object.entries(status?.gateways ?? {}).map(
      ([node, gateway]) =>
        html`<tr>
          <th scope="row">${node}</th>
          <td>${badge(gateway.in_sync ? 'in sync' : 'pending')}</td>
          <td>${gateway.error ?? '–'}</td>
        </tr>`,
    ),
    empty: 'No node is a gateway.',
  });
  return {
    title: 'Routes',
    body: html`<h1>Routes</h1>
      ${routes}${gateways}`,
  };
}
