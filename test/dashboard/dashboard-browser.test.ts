// The dashboard in a real browser (the Debian chromium package driven by playwright-core)
// against a real stack: `flotilla up` of a process service that logs what it is asked to,
// a local restic backup job and `dashboard:`, reached through the gateway's Caddy over
// HTTPS as a user reaches it. A user added with `flotilla dashboard user add` logs in, sees the stack, follows a service's logs live, restarts its
// instance and sees it come back, runs a backup; the keyboard reaches the navigation and
// buttons in order with a visible focus; axe-core finds no serious or critical violation
// on any page; no page breaks the Content-Security-Policy; screenshots at phone, tablet
// and desktop widths go to test-artifacts/dashboard/.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flotilla } from '../helpers/flotilla-cli.ts';
import { freePort } from '../helpers/ports.ts';

const ARTIFACTS = path.resolve('test-artifacts/dashboard');
const AXE = path.resolve('node_modules/axe-core/axe.min.js');
const WIDTHS = [375, 768, 1280];
const USER = 'ada';
const PASSWORD = 'ada: a long enough passphrase';
const SECRET_VALUE = 'pw-d4sh-0f-the-backups';

/** Logs a line for every /say?word=…, so the test decides what appears in the logs. */
const APP = `const http = require('node:http');
const port = Number(process.env.PORT);
http.createServer((request, response) => {
  const url = new URL(request.url, 'http://app');
  if (url.pathname === '/say') console.log('said ' + url.searchParams.get('word'));
  response.end('ok');
}).listen(port, '127.0.0.1', () => console.log('listening on ' + port));
`;

function stackFile(ports: { app: number; http: number; https: number; dashboard: number }): string {
  return `name: dashboard-browser
gateway: { http_port: ${ports.http}, https_port: ${ports.https} }
dashboard: { host: ops.localhost, port: ${ports.dashboard} }
nodes:
  local: { address: 127.0.0.1, gateway: true, cost: 4.5 }
services:
  web:
    run: { command: [node, app.js] }
    ports: { http: ${ports.app} }
    env: { PORT: '\${port}' }
    health: { http: { path: /health }, interval: 500ms }
    routes: [{ host: web.localhost }]
backups:
  targets:
    here: { repository: ./repo, password: '\${secret:RESTIC_PASSWORD}' }
  jobs:
    notes: { node: local, kind: files, paths: [./notes], schedule: '0 3 * * *', to: here }
`;
}

describe.skipIf(process.getuid?.() !== 0)('dashboard in a browser', { timeout: 60_000 }, () => {
  let dir: string;
  let file: string;
  let env: NodeJS.ProcessEnv;
  let browser: BrowserContext | undefined;
  let page: Page;
  let origin: string;
  let appPort: number;
  const loginViolations: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-dashboard-'));
    // Caddy runs as its own user, which must reach its files below.
    await chmod(dir, 0o755);
    env = { FLOTILLA_STATE_DIR: path.join(dir, 'state') };
    appPort = await freePort();
    const https = await freePort();
    file = path.join(dir, 'flotilla.yml');
    await writeFile(
      file,
      stackFile({ app: appPort, http: await freePort(), https, dashboard: await freePort() }),
    );
    await writeFile(path.join(dir, 'app.js'), APP);
    await mkdir(path.join(dir, 'notes'));
    await writeFile(path.join(dir, 'notes', 'a.txt'), 'kept by a backup run from the dashboard\n');
    const [set, user] = await Promise.all([
      flotilla(['secrets', 'set', 'RESTIC_PASSWORD', '-f', file], env, SECRET_VALUE),
      flotilla(['dashboard', 'user', 'add', USER, '--scope', 'admin', '-f', file], env, PASSWORD),
    ]);
    expect(set.code, set.stderr).toBe(0);
    expect(user.code, user.stderr).toBe(0);
    const up = await flotilla(['up', '--detach', '-f', file], env);
    expect(up.code, up.stderr).toBe(0);
    origin = `https://ops.localhost:${https}`;
    browser = await chromium.launchPersistentContext(path.join(dir, 'chromium'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      // The gateway's certificate comes from Caddy's internal CA, which Chromium does not know.
      ignoreHTTPSErrors: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    // Whatever the Content-Security-Policy blocks on a page, recorded from its first moment.
    await browser.addInitScript(() => {
      const found: string[] = [];
      Object.assign(window, { cspViolations: found });
      document.addEventListener('securitypolicyviolation', (event) =>
        found.push(`${event.violatedDirective} ${event.blockedURI}`),
      );
    });
    await mkdir(ARTIFACTS, { recursive: true });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    if (file !== undefined) await flotilla(['down', '-f', file], env);
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const goto = async (pathname: string) => {
    const response = await page.goto(`${origin}${pathname}`);
    expect(response?.status(), pathname).toBe(200);
  };
  const text = (selector: string) => page.locator(selector).first().innerText();

  /** axe-core's serious and critical findings on the page a tab shows, and what its CSP blocked. */
  const seriousViolations = async (tab: Page): Promise<string[]> => {
    const blocked = await tab.evaluate(
      () => (window as unknown as { cspViolations: string[] }).cspViolations,
    );
    // Evaluated by the browser's debugger, which the page's CSP does not govern.
    await tab.evaluate(`${await readFile(AXE, 'utf8')}\n;undefined`);
    const violations = await tab.evaluate(async () => {
      const { axe } = window as unknown as {
        axe: {
          run: () => Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }>;
        };
      };
      const result = await axe.run();
      return result.violations.map(({ id, impact, nodes }) => ({
        id,
        impact,
        count: nodes.length,
      }));
    });
    return violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .map((violation) => `${violation.id} (${violation.impact}, ${violation.count})`)
      .concat(blocked.map((what) => `CSP blocked ${what}`));
  };

  it('logs in and sees the running stack', async () => {
    await page.goto(`${origin}/services/web`);
    expect(new URL(page.url()).pathname).toBe('/login');
    loginViolations.push(...(await seriousViolations(page)).map((found) => `/login: ${found}`));
    await page.getByLabel('Username').fill(USER);
    await page.getByLabel('Password').fill(PASSWORD);
    await Promise.all([
      page.waitForURL(`${origin}/services/web`),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    await goto('/');
    expect(await text('h1')).toBe('Stack dashboard-browser');
    expect(await text('tr[data-service="web"] [data-field="healthy"]')).toBe('1/1');
  });

  it("follows a service's logs live", async () => {
    await goto('/services/web');
    expect(await text('pre.logs')).toContain('listening on');
    const word = `word-${Date.now().toString(36)}`;
    expect(await text('pre.logs')).not.toContain(word);
    // Logged before or after the script's stream opens, the line reaches the page either way.
    await fetch(`http://127.0.0.1:${appPort}/say?word=${word}`);
    await page.waitForFunction(
      (expected) => document.querySelector('pre.logs')?.textContent?.includes(`said ${expected}`),
      word,
    );
  });

  /** Until the service page shows web-1 healthy with another PID than `pid`. */
  const backHealthyAsNewProcess = (pid: string) =>
    page.waitForFunction((old) => {
      const row = document.querySelector('tr[data-instance="web-1"]');
      return (
        row?.querySelector('[data-field="pid"]')?.textContent?.trim() !== old &&
        row?.querySelector('[data-field="health"] .badge')?.textContent === 'healthy'
      );
    }, pid.trim());

  it('restarts the instance and shows it back, healthy, as a new process', async () => {
    await goto('/services/web');
    const before = await text('tr[data-instance="web-1"] [data-field="pid"]');
    page.once('dialog', (dialog) => void dialog.accept());
    await Promise.all([
      page.waitForURL(/\/services\/web\?done=restarted/),
      page.getByRole('button', { name: 'Restart' }).click(),
    ]);
    expect(await page.getByRole('status').innerText()).toContain('Restarted 1 instance');
    await backHealthyAsNewProcess(before);
  });

  it('keeps the open page current when the instance restarts elsewhere (no reload)', async () => {
    const before = await text('tr[data-instance="web-1"] [data-field="pid"]');
    await page.evaluate(() => Object.assign(window, { sameDocument: true }));
    const restart = await flotilla(['restart', 'web', '-f', file], env);
    expect(restart.code, restart.stderr).toBe(0);
    await backHealthyAsNewProcess(before);
    expect(await page.evaluate(() => 'sameDocument' in window)).toBe(true);
  });

  it('runs a backup and shows its size', async () => {
    await goto('/backups');
    expect(await text('tr[data-job="notes"]')).toContain('never');
    await Promise.all([
      page.waitForURL(/\/backups\?done=backup-run&job=notes/),
      page.getByRole('button', { name: 'Run notes' }).click(),
    ]);
    expect(await page.getByRole('status').innerText()).toBe('Backup notes finished.');
    expect(await text('tr[data-job="notes"]')).toMatch(/\d+(\.\d)? (B|KB)/);
  });

  it('reaches the skip link, the navigation and the buttons with Tab, in order, focus visible', async () => {
    await goto('/services/web');
    const expected = [
      'Skip to content',
      'Flotilla',
      'Overview',
      'Routes',
      'Backups',
      'Secrets',
      'Monitors',
      'Deploys',
      'Log out',
      'Restart',
    ];
    for (const name of expected) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const element = document.activeElement as HTMLElement;
        const style = getComputedStyle(element);
        return {
          name: element.innerText.trim(),
          outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
        };
      });
      expect(focused).toEqual({ name, outline: true });
    }
  });

  it('has no serious or critical accessibility violation, nor one of the CSP, nor a secret value, on any page', async () => {
    const found = [...loginViolations];
    for (const pathname of [
      '/',
      '/services/web',
      '/routes',
      '/backups',
      '/backups/notes/restore',
      '/secrets',
      '/monitors',
      '/deploys',
    ]) {
      await goto(pathname);
      found.push(
        ...(await seriousViolations(page)).map((violation) => `${pathname}: ${violation}`),
      );
      // An admin sees the secrets' names, never a value.
      if ((await page.content()).includes(SECRET_VALUE))
        found.push(`${pathname}: shows the value of RESTIC_PASSWORD`);
    }
    expect(found).toEqual([]);
  });

  it('fits 375, 768 and 1280 px wide, the navigation behind a Menu button on a phone', async () => {
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      for (const [name, pathname] of [
        ['overview', '/'],
        ['service', '/services/web'],
        ['backups', '/backups'],
      ] as const) {
        await goto(pathname);
        const overflow = await page.evaluate(
          () => document.documentElement.scrollWidth - window.innerWidth,
        );
        expect(overflow, `${pathname} at ${width} px`).toBeLessThanOrEqual(0);
        await page.screenshot({
          path: path.join(ARTIFACTS, `${name}-${width}.png`),
          fullPage: true,
        });
      }
      const menu = page.getByRole('button', { name: 'Menu' });
      expect(await menu.isVisible()).toBe(width === 375);
    }
    await page.setViewportSize({ width: 375, height: 900 });
    await goto('/');
    expect(await page.getByRole('link', { name: 'Backups' }).isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Menu' }).click();
    expect(await page.getByRole('link', { name: 'Backups' }).isVisible()).toBe(true);
  });
});
