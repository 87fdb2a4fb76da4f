// Deploy history from the audit log (who deployed or rolled back what, when, how it ended),
// and for each service with a release before the current one a Rollback button.
import type { z } from 'zod';
import type { BusEvent } from '../../../protocol/events.ts';
import type { releasesAnswerSchema } from '../../api/answers.ts';
import { ago } from './format.ts';
import { html, segment, type SafeHtml } from './html.ts';
import { apiGet, type Page, type PageContext } from './page-context.ts';
import { actionButton, dataTable, may } from './parts.ts';

type Releases = z.infer<typeof releasesAnswerSchema>;

function rollback(context: PageContext, answer: Releases): SafeHtml | undefined {
  const { current } = answer;
  const previous = current !== null && answer.releases.some((release) => release.number < current);
  if (!previous || !may(context.api, context.principal, 'POST', '/api/v1/services/:name/rollback'))
    return undefined;
  return actionButton({
    action: `/deploys/${segment(answer.service)}/rollback`,
    label: `Roll back ${answer.service}`,
    csrf: context.csrf,
    confirm: `Roll ${answer.service} back to its previous release?`,
    danger: true,
  });
}

export async function deploysPage(context: PageContext, now: number): Promise<Page> {
  const { events } = await apiGet<{ events: BusEvent[] }>(
    context,
    '/api/v1/deploys',
    new URLSearchParams({ limit: '50' }),
  );
  const services = [...new Set(events.flatMap((event) => event.service ?? []))].sort();
  const releases = await Promise.all(
    services.map((service) =>
      apiGet<Releases>(context, `/api/v1/services/${segment(service)}/releases`).catch(
        () => undefined,
      ),
    ),
  );
  const current = dataTable({
    caption: 'Releases of each deployed service',
    hideCaption: true,
    columns: ['Service', 'Current release', 'Releases kept', 'Actions'],
    rows: releases.flatMap((answer) =>
      answer === undefined
        ? []
        : html`<tr>
            <th scope="row">
              <a href="/services/${segment(answer.service)}">${answer.service}</a>
            </th>
            <td>${answer.current ?? '–'}</td>
            <td>${answer.releases.length}</td>
            <td>${rollback(context, answer)}</td>
          </tr>`,
    ),
    empty: 'Nothing has been deployed yet: flotilla deploy SERVICE.',
  });
  const history = dataTable({
    caption: 'Deploy history, newest first',
    hideCaption: true,
    columns: ['When', 'Service', 'What'],
    rows: [...events].reverse().map(
      (event) =>
        html`<tr>
          <th scope="row">${ago(event.at, now)}</th>
          <td>${event.service ?? '–'}</td>
          <td><span class="event-type">${event.type}</span> ${event.message}</td>
        </tr>`,
    ),
    empty: 'No deploys yet.',
  });
  const body = html`<h1>Deploys</h1>
    <section aria-labelledby="releases-heading">
      <h2 id="releases-heading">Services</h2>
      ${current}
    </section>
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">History</h2>
      ${history}
    </section>`;
  return { title: 'Deploys', body };
}
