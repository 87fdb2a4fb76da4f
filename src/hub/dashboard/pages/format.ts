// How the dashboard writes numbers and times: sizes in the decimal units restic and bills
// use, durations as the alerts write them, moments as "4m ago" inside a <time> element that
// carries the exact instant (a screen reader or a tooltip gets the date, the eye the age).
import { formatBytes } from '../../../backup/events.ts';
import { formatElapsed } from '../../alerts/alert-message.ts';
import { html, type SafeHtml } from './html.ts';

export { formatBytes, formatElapsed };

/** 0.99987 → "99.99 %"; undefined (no data) → "–". */
export function percent(fraction: number | undefined | null): string {
  if (fraction === undefined || fraction === null) return '–';
  return fraction === 1 ? '100 %' : `${(fraction * 100).toFixed(2)} %`;
}

/** `used / total (NN %)`, or "–" when the node sent no figures. */
export function usage(used: number | undefined, total: number | undefined): string {
  if (used === undefined || total === undefined || total <= 0) return '–';
  return `${formatBytes(used)} / ${formatBytes(total)} (${Math.round((used / total) * 100)} %)`;
}

/** "4m 12s ago" in a <time> element; "never" for no moment. */
export function ago(at: number | undefined | null, now: number): SafeHtml {
  if (at === undefined || at === null || at <= 0) return html`<span class="muted">never</span>`;
  const iso = new Date(at).toISOString();
  const age = now - at;
  const text = age < 1000 ? 'just now' : `${formatElapsed(age)} ago`;
  return html`<time datetime="${iso}" title="${iso.replace('T', ' ').slice(0, 19)} UTC"
    >${text}</time
  >`;
}

/** 10.5, "EUR" → "10.50 EUR", as `flotilla plan` writes a node's monthly cost. */
export function money(amount: number, currency: string): string {
  return `${amount.toFixed(2)} ${currency}`;
}
