// The dashboard's buttons: each POST calls one API route as the signed-in user. Success
// redirects back to the page it came from with a short code naming what happened (post,
// redirect, get: a reload does not post again), which that page shows as a flash message.
// A refusal or failure (the API's 403 for an under-scoped user, a node that did not answer,
// a backup that failed) renders the page it came from with the message, never a crash.
import type { BackupEvent } from '../../../backup/events.ts';
import { ApiError } from '../../api/api-route.ts';
import { segment } from './html.ts';
import type { Flash } from './layout.ts';
import { param, type PageContext } from './page-context.ts';

export interface Action {
  /** The dashboard path it answers, with :parameters. */
  path: string;
  /** The page to go back to: with a flash after success, with the error after a failure. */
  back: (context: PageContext) => string;
  /** Where success goes instead of `back` (a restore goes from its form to the job list). */
  next?: string;
  /** Calls the API; the answer is the query string of the redirect's flash. */
  run: (context: PageContext) => Promise<Record<string, string>>;
}

function post(context: PageContext, path: string, body?: unknown): Promise<unknown> {
  return context.api.call('POST', path, { principal: context.principal, body });
}

/** A run or verify answers 200 with a failed event when the backup itself failed: a failure here. */
async function backupAction(
  context: PageContext,
  action: 'run' | 'verify',
): Promise<Record<string, string>> {
  const job = param(context, 'job');
  const answer = (await post(context, `/api/v1/backups/${segment(job)}`, { action })) as {
    event: BackupEvent;
  };
  const { event } = answer;
  if (event.type === 'backup.failed' || event.type === 'backup.verify_failed')
    throw new ApiError(502, event.message, { hint: event.data.hint });
  return { done: action === 'run' ? 'backup-run' : 'backup-verify', job };
}

export const ACTIONS: readonly Action[] = [
  {
    path: '/services/:name/restart',
    back: (context) => `/services/${segment(param(context, 'name'))}`,
    run: async (context) => {
      const name = param(context, 'name');
      const answer = (await post(context, `/api/v1/services/${segment(name)}/restart`)) as {
        restarted: number;
      };
      return { done: 'restarted', count: String(answer.restarted) };
    },
  },
  {
    path: '/backups/:job/run',
    back: () => '/backups',
    run: (context) => backupAction(context, 'run'),
  },
  {
    path: '/backups/:job/verify',
    back: () => '/backups',
    run: (context) => backupAction(context, 'verify'),
  },
  {
    path: '/backups/:job/restore',
    back: (context) => `/backups/${segment(param(context, 'job'))}/restore`,
    next: '/backups',
    run: async (context) => {
      const job = param(context, 'job');
      const confirm = context.form?.get('confirm') ?? '';
      if (confirm !== job)
        throw new ApiError(400, `type the job's name, ${job}, to confirm the restore`);
      const snapshot = context.form?.get('snapshot') || undefined;
      await post(context, `/api/v1/backups/${segment(job)}/restore`, {
        action: 'restore',
        confirm,
        ...(snapshot === undefined ? {} : { snapshot }),
      });
      return { done: 'restored', job };
    },
  },
  {
    path: '/deploys/:service/rollback',
    back: () => '/deploys',
    run: async (context) => {
      const service = param(context, 'service');
      await post(context, `/api/v1/services/${segment(service)}/rollback`, {
        by: `${context.principal.name} (dashboard)`,
      });
      return { done: 'rolled-back', service };
    },
  },
];

const NAME = /^[A-Za-z0-9_.@-]{1,200}$/;

/** The flash message a redirect's query names; unknown codes and odd values show nothing. */
export function doneFlash(query: URLSearchParams): Flash | undefined {
  const name = (key: string) => {
    const value = query.get(key) ?? '';
    return NAME.test(value) ? value : undefined;
  };
  const count = Number(query.get('count'));
  const job = name('job');
  const service = name('service');
  switch (query.get('done')) {
    case 'restarted':
      return Number.isInteger(count) && count >= 0
        ? {
            kind: 'ok',
            text: `Restarted ${count} instance${count === 1 ? '' : 's'}, each healthy before the next.`,
          }
        : undefined;
    case 'backup-run':
      return job === undefined ? undefined : { kind: 'ok', text: `Backup ${job} finished.` };
    case 'backup-verify':
      return job === undefined
        ? undefined
        : { kind: 'ok', text: `Backup ${job} verified: its latest snapshot restores.` };
    case 'restored':
      return job === undefined ? undefined : { kind: 'ok', text: `Restored ${job}.` };
    case 'rolled-back':
      return service === undefined
        ? undefined
        : { kind: 'ok', text: `Rolled ${service} back to its previous release.` };
    default:
      return undefined;
  }
}
