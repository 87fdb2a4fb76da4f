// The contract between the dashboard's listener (login, sessions, CSRF) and its pages: what
// a page is given (the signed-in principal, the session's CSRF token, the API handler it
// renders from) and what it answers (HTML, or a redirect after a POST). Pages read
// everything through `api.call` with the session's principal, so a page can never show or
// do more than the API allows that user.
import type { ApiHandler } from '../../api/api-handler.ts';
import type { Principal } from '../../api/api-route.ts';
import type { Flash } from './layout.ts';
import type { SafeHtml } from './html.ts';

export interface PageContext {
  principal: Principal;
  csrf: string;
  api: ApiHandler;
  params?: Record<string, string>;
  query: URLSearchParams;
  /** A POST's body; the listener has checked its CSRF token already. */
  form?: URLSearchParams;
}

export type PageAnswer = { status?: number; html: string } | { redirect: string };

/** What a page renders before the layout frames it. */
export interface Page {
  title: string;
  body: SafeHtml;
  status?: number;
  flash?: Flash | undefined;
}

/** A GET of the API as the signed-in user; the answer has the route's response shape. */
export async function apiGet<T>(
  context: PageContext,
  path: string,
  query?: URLSearchParams,
): Promise<T> {
  return (await context.api.call('GET', path, {
    principal: context.principal,
    ...(query === undefined ? {} : { query }),
  })) as T;
}

export function param(context: PageContext, name: string): string {
  const value = context.params?.[name];
  if (value === undefined) throw new Error(`the page route has no :${name}`);
  return value;
}
