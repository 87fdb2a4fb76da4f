// The stack's secrets: names, current version, how many versions are kept and which
// services use each. Never a value: the API has none to give.
import { ago } from './format.ts';
import { html } from './html.ts';
import { apiGet, type Page, type PageContext } from './page-context.ts';
import { dataTable } from './parts.ts';

interface SecretRow {
  name: string;
  current: number;
  versions: number;
  updated_at: number;
  services: string[];
}

export async function secretsPage(context: PageContext, now: number): Promise<Page> {
  const { secrets } = await apiGet<{ secrets: SecretRow[] }>(context, '/api/v1/secrets');
  const table = dataTable({
    caption: 'Secrets',
    hideCaption: true,
    columns: ['Name', 'Version', 'Versions kept', 'Updated', 'Used by'],
    rows: secrets.map(
      (secret) =>
        html`<tr>
          <th scope="row">${secret.name}</th>
          <td>${secret.current}</td>
          <td>${secret.versions}</td>
          <td>${ago(secret.updated_at, now)}</td>
          <td>${secret.services.length > 0 ? secret.services.join(', ') : '–'}</td>
        </tr>`,
    ),
    empty: 'No secrets yet.',
  });
  const body = html`<h1>Secrets</h1>
    <p class="muted">
      Values are never shown; set one with <code>flotilla secrets set NAME</code>.
    </p>
    ${table}`;
  return { title: 'Secrets', body };
}
