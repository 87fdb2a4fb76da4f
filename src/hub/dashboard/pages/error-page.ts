// What a page shows when the API refuses or fails: the status and the API's own message
// (with its hint when it has one), never a stack trace. A refusal of a button's action is
// a flash on the page it came from instead (actions.ts).
import { ApiError } from '../../api/api-route.ts';
import { html } from './html.ts';
import type { Page } from './page-context.ts';

const TITLES: Record<number, string> = {
  400: 'Bad request',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  429: 'Too many requests',
  504: 'No answer from the node',
};

/** The message a user reads for a failed API call, with the API's hint if it gave one. */
export function errorText(error: unknown): string {
  if (!(error instanceof ApiError))
    return `the dashboard could not do this: ${(error as Error).message}`;
  const details = error.details as { hint?: unknown } | undefined;
  const hint = typeof details?.hint === 'string' ? ` (${details.hint})` : '';
  return `${error.message}${hint}`;
}

export function errorStatus(error: unknown): number {
  return error instanceof ApiError ? error.status : 500;
}

export function errorPage(error: unknown): Page {
  const status = errorStatus(error);
  const title = TITLES[status] ?? (status >= 500 ? 'Something went wrong' : 'Error');
  return {
    title,
    status,
    body: html`<h1>${title}</h1>
      <p class="error-message">${errorText(error)}</p>
      <p><a href="/">Back to the overview</a></p>`,
  };
}
