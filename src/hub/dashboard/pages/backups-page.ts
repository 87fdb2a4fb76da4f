// The stack's backup jobs: schedule, state, last run and last verify (by restoring it),
// what the last run added and how long it took; Run and Verify buttons for operators, and
// Restore behind its own page where the job's name must be typed (the API refuses a
// restore over live data without it).
import type { z } from 'zod';
import type { backupJobSchema } from '../../api/answers.ts';
import { ago, formatBytes, formatElapsed } from './format.ts';
import { html, segment, type SafeHtml } from './html.ts';
import { apiGet, param, type Page, type PageContext } from './page-context.ts';
import { actionButton, badge, dataTable, may } from './parts.ts';

type BackupJob = z.infer<typeof backupJobSchema>;

const BACKUP_ROUTE = '/api/v1/backups/:job';
const RESTORE_ROUTE = '/api/v1/backups/:job/restore';

function lastVerify(job: BackupJob, now: number): SafeHtml {
  if ((job.last_verify_failed_at ?? 0) > (job.last_verify_at ?? 0))
    return html`${badge('verify failed')} ${ago(job.last_verify_failed_at, now)}
    ${job.verify_error ? html`<br /><span class="muted">${job.verify_error}</span>` : ''}`;
  return job.last_verify_at === undefined
    ? html`<span class="muted">never</span>`
    : html`${badge('verified')} ${ago(job.last_verify_at, now)}`;
}

function buttons(context: PageContext, job: BackupJob): SafeHtml | undefined {
  if (job.node === '') return undefined;
  const base = `/backups/${segment(job.job)}`;
  const allowed = (route: string) => may(context.api, context.principal, 'POST', route);
  const buttons = [
    allowed(BACKUP_ROUTE) && [
      actionButton({ action: `${base}/run`, label: `Run ${job.job}`, csrf: context.csrf }),
      actionButton({ action: `${base}/verify`, label: `Verify ${job.job}`, csrf: context.csrf }),
    ],
    allowed(RESTORE_ROUTE) &&
      html`<a class="button danger" href="${base}/restore">Restore ${job.job}…</a>`,
  ];
  return html`<div class="actions">${buttons}</div>`;
}

function jobs(context: PageContext): Promise<BackupJob[]> {
  return apiGet<{ jobs: BackupJob[] }>(context, '/api/v1/backups').then((answer) => answer.jobs);
}

export async function backupsPage(context: PageContext, now: number): Promise<Page> {
  const table = dataTable({
    caption: 'Backup jobs',
    hideCaption: true,
    columns: ['Job', 'State', 'Last backup', 'Added', 'Last verify', 'Actions'],
    rows: (await jobs(context)).map(
      (job) =>
        html`<tr data-job="${job.job}">
          <th scope="row">
            ${job.job}<br /><span class="muted"
              >${job.node || 'not scheduled'} · <code>${job.schedule.cron}</code></span
            >
          </th>
          <td>
            ${badge(job.status)}${job.detail ? html`<br /><span class="muted">${job.detail}</span>` : ''}
          </td>
          <td>
            ${ago(job.last_success_at, now)}${job.last_duration_ms === undefined ? '' : html`<br /><span class="muted">took ${formatElapsed(job.last_duration_ms)}</span>`}
          </td>
          <td>${job.last_bytes_added === undefined ? '–' : formatBytes(job.last_bytes_added)}</td>
          <td>${lastVerify(job, now)}</td>
          <td>${buttons(context, job)}</td>
        </tr>`,
    ),
    empty: 'The stack declares no backup job.',
  });
  return {
    title: 'Backups',
    body: html`<h1>Backups</h1>
      ${table}`,
  };
}

/** Restore: what it does, and a form that needs the job's name typed to go on. */
export async function restorePage(context: PageContext): Promise<Page> {
  const job = param(context, 'job');
  if (!(await jobs(context)).some((candidate) => candidate.job === job))
    return {
      title: 'Not found',
      status: 404,
      body: html`<h1>Not found</h1>
        <p>No backup job named ${job}.</p>`,
    };
  const form = may(context.api, context.principal, 'POST', RESTORE_ROUTE)
    ? html`<form method="post" action="/backups/${segment(job)}/restore" class="stacked">
        <input type="hidden" name="csrf" value="${context.csrf}" />
        <label for="snapshot">Snapshot ID <span class="muted">(empty: the latest)</span></label>
        <input id="snapshot" name="snapshot" autocomplete="off" spellcheck="false" />
        <label for="confirm">Type <strong>${job}</strong> to confirm</label>
        <input id="confirm" name="confirm" required autocomplete="off" spellcheck="false" />
        <button type="submit" class="button danger">Restore ${job}</button>
      </form>`
    : html`<p class="flash flash-error">
        Your ${context.principal.scope} scope may not restore backups.
      </p>`;
  const body = html`<h1>Restore ${job}</h1>
    <p>
      A restore puts the backup back over the live data of <strong>${job}</strong>. A safety
      snapshot of the current data is taken first, so the restore can itself be undone.
    </p>
    ${form}
    <p><a href="/backups">Back to backups</a></p>`;
  return { title: `Restore ${job}`, body };
}
