// The frame every dashboard page shares: the document head (the CSRF token in a <meta> for
// the script, which the Content-Security-Policy keeps out of the page itself), a skip link,
// the header with the main navigation (a menu button collapses it on narrow screens once
// the script runs; without it the links wrap), a flash message, and the page's <main>.
import type { Principal } from '../../api/api-route.ts';
import { html, type SafeHtml } from './html.ts';

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

export interface LayoutOptions {
  title: string;
  /** The path of the page, to mark its navigation link as the current one. */
  path: string;
  csrf: string;
  principal?: Principal;
  flash?: Flash | undefined;
  body: SafeHtml;
}

export const NAVIGATION: readonly { href: string; label: string }[] = [
  { href: '/', label: 'Overview' },
  { href: '/routes', label: 'Routes' },
  { href: '/backups', label: 'Backups' },
  { href: '/secrets', label: 'Secrets' },
  { href: '/monitors', label: 'Monitors' },
  { href: '/deploys', label: 'Deploys' },
];

function current(href: string, path: string): boolean {
  return href === '/' ? path === '/' || path.startsWith('/services/') : path.startsWith(href);
}

export function flashMessage(flash: Flash | undefined): SafeHtml | undefined {
  if (flash === undefined) return undefined;
  // An error interrupts (alert); a success is announced politely (status).
  return flash.kind === 'error'
    ? html`<div class="flash flash-error" role="alert">${flash.text}</div>`
    : html`<div class="flash flash-ok" role="status">${flash.text}</div>`;
}

export function layout(options: LayoutOptions): string {
  const { principal } = options;
  const links = NAVIGATION.map(
    ({ href, label }) =>
      html`<li>
        <a href="${href}" ${current(href, options.path) ? html` aria-current="page"` : ''}
          >${label}</a
        >
      </li>`,
  );
  const account = principal
    ? html`<div class="account">
        <span>${principal.name} <span class="scope">${principal.scope}</span></span>
        <form method="post" action="/logout">
          <input type="hidden" name="csrf" value="${options.csrf}" />
          <button type="submit" class="link-button">Log out</button>
        </form>
      </div>`
    : '';
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="csrf-token" content="${options.csrf}" />
        <title>${options.title} · Flotilla</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="/assets/dashboard.css" />
        <script src="/assets/dashboard.js" defer></script>
      </head>
      <body>
        <a class="skip-link" href="#main">Skip to content</a>
        <header class="top">
          <a class="brand" href="/">Flotilla</a>
          ${
            principal
              ? html`<button
                    type="button"
                    class="menu-button"
                    aria-expanded="false"
                    aria-controls="nav-links"
                    hidden
                  >
                    Menu
                  </button>
                  <nav aria-label="Main" id="nav-links" class="nav">
                    <ul>
                      ${links}
                    </ul>
                    ${account}
                  </nav>`
              : ''
          }
        </header>
        <main id="main" tabindex="-1">${flashMessage(options.flash)} ${options.body}</main>
      </body>
    </html> `.value;
}
