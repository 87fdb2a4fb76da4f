// Pieces several dashboard pages use: a state badge (a word and a colour, never the colour
// alone), a POST button form carrying the CSRF token, a health-history chart, and the
// check of whether the signed-in user may call an API route (a button they may not use is
// not shown; the API refuses it anyway if posted).
import { callableInProcess, type ApiHandler } from '../../api/api-handler.ts';
import { scopeAllows, type ApiMethod, type Principal } from '../../api/api-route.ts';
import type { RecentResult } from '../../monitoring/uptime-stats.ts';
import { html, type SafeHtml } from './html.ts';

const GOOD = new Set(['up', 'running', 'healthy', 'ok', 'succeeded', 'verified', 'in sync']);
const BAD = new Set([
  'down',
  'failed',
  'unhealthy',
  'backoff',
  'exited',
  'stopped',
  'verify failed',
]);

/** A state as a word in a coloured pill: good (green), bad (red), anything else neutral. */
export function badge(state: string): SafeHtml {
  const tone = GOOD.has(state) ? 'good' : BAD.has(state) ? 'bad' : 'neutral';
  return html`<span class="badge badge-${tone}">${state}</span>`;
}

/** Whether `principal` may call the JSON API route with this method and path template. */
export function may(
  api: Pick<ApiHandler, 'routes'>,
  principal: Principal,
  method: ApiMethod,
  path: string,
): boolean {
  const route = api.routes.find(
    (candidate) => candidate.method === method && candidate.path === path,
  );
  // A page calls routes through ApiHandler.call: an upload or an endless stream is no button.
  return (
    route !== undefined && callableInProcess(route) && scopeAllows(principal.scope, route.scope)
  );
}

export interface ActionButton {
  action: string;
  label: string;
  csrf: string;
  /** Asked before posting when the script runs (a confirm dialog). */
  confirm?: string;
  danger?: boolean;
}

/** A form posting nothing but the CSRF token: the dashboard's every button. */
export function actionButton(button: ActionButton): SafeHtml {
  return html`<form
    method="post"
    action="${button.action}"
    class="inline"
    ${button.confirm === undefined ? '' : html` data-confirm="${button.confirm}"`}
  >
    <input type="hidden" name="csrf" value="${button.csrf}" />
    <button type="submit" class="${button.danger ? 'button danger' : 'button'}">
      ${button.label}
    </button>
  </form>`;
}

const BAR_WIDTH = 4;
const BAR_GAP = 1;
const HEIGHT = 20;

/**
 * The last checks as bars, oldest on the left: full green up, full red down, grey
 * maintenance. An SVG image with a text alternative that counts them.
 */
export function historyChart(results: readonly RecentResult[], label: string): SafeHtml {
  if (results.length === 0) return html`<span class="muted">no checks yet</span>`;
  const down = results.filter((result) => result.status === 'down').length;
  const width = results.length * (BAR_WIDTH + BAR_GAP) - BAR_GAP;
  const bars = results.map(
    (result, index) =>
      html`<rect
        x="${index * (BAR_WIDTH + BAR_GAP)}"
        y="0"
        width="${BAR_WIDTH}"
        height="${HEIGHT}"
        class="check-${result.status}"
      ></rect>`,
  );
  const summary = `${label}: last ${results.length} checks, ${down} down`;
  return html`<svg
    class="history"
    role="img"
    aria-label="${summary}"
    viewBox="0 0 ${width} ${HEIGHT}"
    width="${width}"
    height="${HEIGHT}"
  >
    <title>${summary}</title>
    ${bars}
  </svg>`;
}

export interface TableOptions {
  caption: string;
  /** The caption is for screen readers only (a heading above says the same). */
  hideCaption?: boolean;
  columns: readonly string[];
  /** Each a <tr>, its first cell a <th scope="row">. */
  rows: readonly SafeHtml[];
  /** What is said instead of an empty table. */
  empty: string;
}

/** A captioned table with column headers that scrolls sideways on a phone, or a sentence. */
export function dataTable(options: TableOptions): SafeHtml {
  if (options.rows.length === 0) return html`<p class="empty">${options.empty}</p>`;
  return html`<div class="scroll"><table>
<caption${options.hideCaption ? html` class="visually-hidden"` : ''}>${options.caption}</caption>
<thead><tr>${options.columns.map((column) => html`<th scope="col">${column}</th>`)}</tr></thead>
<tbody>${options.rows}</tbody>
</table></div>`;
}
