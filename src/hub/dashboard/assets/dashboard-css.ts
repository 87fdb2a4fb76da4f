// The dashboard's stylesheet, served at /assets/dashboard.css. A TypeScript constant, not a
// .css file read at run time: the compiled build (dist/) bundles the code into chunks and
// would not carry a file beside this module.
export const DASHBOARD_CSS = String.raw`/* The dashboard's one stylesheet: a readable single column on a phone, a wider one on a
   desk; colours that keep 4.5:1 contrast; a focus ring on everything focusable. No
   inline styles anywhere (the Content-Security-Policy allows only this file). */
:root {
  --fg: #1b1f24;
  --muted: #57606a;
  --bg: #ffffff;
  --panel: #f6f8fa;
  --line: #d0d7de;
  --accent: #0550ae;
  --good-bg: #dafbe1;
  --good-fg: #116329;
  --bad-bg: #ffebe9;
  --bad-fg: #a40e26;
  --neutral-bg: #eaeef2;
  --focus: #bf3989;
  font-family:
    system-ui,
    -apple-system,
    'Segoe UI',
    Roboto,
    sans-serif;
  color: var(--fg);
  background: var(--bg);
  line-height: 1.45;
}
* {
  box-sizing: border-box;
}
body {
  margin: 0;
}
a {
  color: var(--accent);
}
:focus-visible {
  outline: 3px solid var(--focus);
  outline-offset: 2px;
}
main:focus {
  outline: none;
}
code,
pre {
  font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace;
  font-size: 0.9em;
}

.skip-link {
  position: absolute;
  left: 0.5rem;
  top: -3rem;
  background: var(--fg);
  color: #fff;
  padding: 0.5rem 0.75rem;
  z-index: 10;
}
.skip-link:focus {
  top: 0.5rem;
}
.visually-hidden {
  position: absolute;
  width: 1px;
  height: 1px;
  overflow: hidden;
  clip: rect(0 0 0 0);
  white-space: nowrap;
}

.top {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.5rem 1rem;
  padding: 0.6rem 1rem;
  border-bottom: 1px solid var(--line);
  background: var(--panel);
}
.brand {
  font-weight: 700;
  font-size: 1.1rem;
  text-decoration: none;
  color: var(--fg);
  margin-right: auto;
}
.nav {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.5rem 1rem;
}
.nav ul {
  display: flex;
  flex-wrap: wrap;
  gap: 0.25rem 0.75rem;
  list-style: none;
  margin: 0;
  padding: 0;
}
.nav a {
  display: inline-block;
  padding: 0.35rem 0.25rem;
  text-decoration: none;
}
.nav a[aria-current='page'] {
  font-weight: 700;
  border-bottom: 3px solid var(--accent);
}
.account {
  display: flex;
  align-items: center;
  gap: 0.5rem;
  color: var(--muted);
}
.scope {
  font-size: 0.8rem;
  border: 1px solid var(--line);
  border-radius: 1rem;
  padding: 0 0.4rem;
}
.menu-button {
  display: none;
}

main {
  padding: 1rem;
  max-width: 80rem;
  margin: 0 auto;
}
h1 {
  font-size: 1.5rem;
  margin: 0.5rem 0;
}
h2 {
  font-size: 1.15rem;
  margin: 1.5rem 0 0.5rem;
}
.page-head {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.5rem 1rem;
}
.summary {
  margin: 0;
  color: var(--muted);
}
.muted {
  color: var(--muted);
}
.empty {
  color: var(--muted);
  font-style: italic;
}

.scroll {
  overflow-x: auto;
  margin: 0.5rem 0 1rem;
}
table {
  border-collapse: collapse;
  width: 100%;
  font-size: 0.95rem;
}
caption {
  text-align: left;
  font-weight: 700;
  font-size: 1.15rem;
  padding: 0.5rem 0;
}
th,
td {
  text-align: left;
  vertical-align: top;
  padding: 0.45rem 0.6rem;
  border-bottom: 1px solid var(--line);
}
thead th {
  font-size: 0.85rem;
  color: var(--muted);
  white-space: nowrap;
}
tbody th {
  font-weight: 600;
}

.badge {
  display: inline-block;
  border-radius: 1rem;
  padding: 0 0.5rem;
  font-size: 0.85rem;
  font-weight: 600;
  background: var(--neutral-bg);
  color: var(--fg);
  white-space: nowrap;
}
.badge-good,
.flash-ok {
  background: var(--good-bg);
  color: var(--good-fg);
}
.badge-bad,
.flash-error {
  background: var(--bad-bg);
  color: var(--bad-fg);
}

.button,
.link-button {
  font: inherit;
  cursor: pointer;
}
.button {
  display: inline-block;
  border: 1px solid var(--accent);
  background: var(--accent);
  color: #fff;
  border-radius: 0.35rem;
  padding: 0.35rem 0.9rem;
  text-decoration: none;
  min-height: 2.25rem;
}
.button.danger {
  background: var(--bad-fg);
  border-color: var(--bad-fg);
  color: #fff;
}
.link-button {
  background: none;
  border: none;
  color: var(--accent);
  text-decoration: underline;
  padding: 0.25rem;
}
form.inline {
  display: inline;
}
.actions {
  display: flex;
  flex-wrap: wrap;
  gap: 0.4rem;
}
.stacked {
  display: flex;
  flex-direction: column;
  gap: 0.4rem;
  max-width: 24rem;
}
.stacked input {
  font: inherit;
  padding: 0.4rem;
  border: 1px solid var(--muted);
  border-radius: 0.3rem;
}
.stacked button {
  margin-top: 0.5rem;
  align-self: flex-start;
}
.login {
  max-width: 24rem;
  margin: 2rem auto;
}

.flash {
  padding: 0.6rem 0.9rem;
  border-radius: 0.35rem;
  margin: 0.5rem 0 1rem;
  border: 1px solid;
}
.error-message {
  font-size: 1.05rem;
}

.events {
  padding-left: 0;
  list-style: none;
  margin: 0;
}
.events li {
  padding: 0.4rem 0;
  border-bottom: 1px solid var(--line);
  overflow-wrap: anywhere;
}
.event-type {
  font-family: ui-monospace, Menlo, Consolas, monospace;
  font-size: 0.85rem;
  color: var(--muted);
}

.logs {
  background: #0d1117;
  color: #e6edf3;
  padding: 0.75rem;
  border-radius: 0.35rem;
  max-height: 28rem;
  overflow: auto;
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}

.history {
  vertical-align: middle;
}
.history .check-up {
  fill: #1a7f37;
}
.history .check-down {
  fill: #cf222e;
}
.history .check-maintenance {
  fill: #8c959f;
}

/* Narrow screens: with the script, the navigation hides behind the Menu button. */
@media (max-width: 40rem) {
  .js .menu-button {
    display: inline-block;
    font: inherit;
    padding: 0.3rem 0.8rem;
    border: 1px solid var(--line);
    border-radius: 0.35rem;
    background: var(--bg);
    color: var(--fg);
  }
  .js .nav {
    display: none;
    width: 100%;
  }
  .js .nav.open {
    display: flex;
    flex-direction: column;
    align-items: flex-start;
  }
  .js .nav.open ul {
    flex-direction: column;
  }
  main {
    padding: 0.75rem;
  }
  th,
  td {
    padding: 0.4rem;
  }
}
`;
