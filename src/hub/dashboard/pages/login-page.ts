// The sign-in page: a username and password form posted to /login with the CSRF token and
// where to go next. Rendered before there is a session, so it has no navigation.
import { html } from './html.ts';
import { layout } from './layout.ts';

export function renderLoginPage(options: { error?: string; next?: string; csrf: string }): string {
  const body = html`<div class="login">
    <h1>Sign in to Flotilla</h1>
    <form method="post" action="/login" class="stacked">
      <input type="hidden" name="csrf" value="${options.csrf}" />
      <input type="hidden" name="next" value="${options.next ?? '/'}" />
      <label for="username">Username</label>
      <input id="username" name="username" autocomplete="username" required autofocus />
      <label for="password">Password</label>
      <input
        id="password"
        name="password"
        type="password"
        autocomplete="current-password"
        required
      />
      <button type="submit" class="button">Sign in</button>
    </form>
  </div>`;
  return layout({
    title: 'Sign in',
    path: '/login',
    csrf: options.csrf,
    flash: options.error === undefined ? undefined : { kind: 'error', text: options.error },
    body,
  });
}
