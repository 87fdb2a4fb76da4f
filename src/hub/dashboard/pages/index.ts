// The dashboard's pages, as the listener calls them: a GET renders a page from the API
// (as the signed-in user), a POST runs a button's action and redirects back; undefined
// means no such page (404). The login page is rendered without a session.
import { ACTIONS, doneFlash } from './actions.ts';
import { backupsPage, restorePage } from './backups-page.ts';
import { deploysPage } from './deploys-page.ts';
import { errorPage, errorStatus, errorText } from './error-page.ts';
import { layout } from './layout.ts';
import { monitorsPage } from './monitors-page.ts';
import { overviewPage } from './overview-page.ts';
import type { Page, PageAnswer, PageContext } from './page-context.ts';
import { routesPage } from './routes-page.ts';
import { secretsPage } from './secrets-page.ts';
import { servicePage } from './service-page.ts';

export type { PageAnswer, PageContext } from './page-context.ts';
export { renderLoginPage } from './login-page.ts';

type Renderer = (context: PageContext, now: number) => Promise<Page>;

const PAGES: readonly { path: string; render: Renderer }[] = [
  { path: '/', render: overviewPage },
  { path: '/services/:name', render: servicePage },
  { path: '/routes', render: routesPage },
  { path: '/backups', render: backupsPage },
  { path: '/backups/:job/restore', render: restorePage },
  { path: '/secrets', render: secretsPage },
  { path: '/monitors', render: monitorsPage },
  { path: '/deploys', render: deploysPage },
];

/** /services/:name → ^/services/(?<name>[^/]+)$ */
function pattern(template: string): RegExp {
  return new RegExp(`^${template.replace(/:(\w+)/g, '(?<$1>[^/]+)')}$`);
}

/** The parameters of `pathname` against a template like /services/:name, or undefined. */
function matchPage(template: string, pathname: string): Record<string, string> | undefined {
  const match = pattern(template).exec(pathname);
  if (!match) return undefined;
  try {
    return Object.fromEntries(
      Object.entries(match.groups ?? {}).map(([name, value]) => [name, decodeURIComponent(value)]),
    );
  } catch {
    return undefined;
  }
}

function find<T extends { path: string }>(
  table: readonly T[],
  pathname: string,
): { entry: T; params: Record<string, string> } | undefined {
  for (const entry of table) {
    const params = matchPage(entry.path, pathname);
    if (params) return { entry, params };
  }
  return undefined;
}

async function rendered(
  render: Renderer,
  context: PageContext,
  pathname: string,
  now: number,
): Promise<{ status?: number; html: string }> {
  let page: Page;
  try {
    page = await render(context, now);
  } catch (error) {
    page = errorPage(error);
  }
  const flash = page.flash ?? doneFlash(context.query);
  return {
    status: page.status ?? 200,
    html: layout({
      ...page,
      flash,
      path: pathname,
      csrf: context.csrf,
      principal: context.principal,
    }),
  };
}

export async function handlePage(
  method: 'GET' | 'POST',
  pathname: string,
  context: PageContext,
  now: number = Date.now(),
): Promise<PageAnswer | undefined> {
  if (method === 'GET') {
    const found = find(PAGES, pathname);
    if (!found) return undefined;
    return rendered(found.entry.render, { ...context, params: found.params }, pathname, now);
  }
  const found = find(ACTIONS, pathname);
  if (!found) return undefined;
  const actionContext = { ...context, params: found.params };
  const back = found.entry.back(actionContext);
  try {
    const done = await found.entry.run(actionContext);
    return { redirect: `${found.entry.next ?? back}?${new URLSearchParams(done).toString()}` };
  } catch (error) {
    // The page it came from, with what went wrong on top (and the API's status).
    const page = find(PAGES, back)!;
    const failed: Renderer = async (pageContext, at) => ({
      ...(await page.entry.render(pageContext, at)),
      status: errorStatus(error),
      flash: { kind: 'error', text: errorText(error) },
    });
    return rendered(
      failed,
      { ...context, params: page.params, query: new URLSearchParams() },
      back,
      now,
    );
  }
}
