// bench/dashboard: what the dashboard costs the hub (issue 15's budget: hub + agent with the
// dashboard idle ≤ 150 MB RSS together and ≤ 1 % of a core), with the real CLI.
//
//   node_modules/.bin/tsx bench/dashboard.ts
//   BENCH_WINDOW_S=120 node_modules/.bin/tsx bench/dashboard.ts
//
// One stack (`flotilla up`: the daemon running hub and agent in one process, nats-server,
// Caddy; one service, bench/fixtures/hello-server.js). Three windows of BENCH_WINDOW_S
// (default 60 s) on the same daemon, after a settle each:
//   1. without `dashboard:` (the baseline);
//   2. after `flotilla apply` with `dashboard:` and a user added, idle: nobody logged in;
//   3. in use: a browser-like client logged in through the gateway loads every page every
//      5 s with an EventSource on /api/v1/events open (what a dashboard left open does).
// Measured: CPU % of one core (utime + stime) of the daemon, and its VmRSS at each window's
// end; window 3 also each page's median and p95 time through the gateway. Run it from a clean
// tree: bin/flotilla.js then runs the compiled build, as an install does (from the sources,
// tsx and its esbuild service would be measured too, and the bench says so).
// A missed budget prints FAIL; the exit status is non-zero only when something crashes.
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { readEndpoint } from '../src/hub/api-endpoint.ts';
import { measureWindow, type ProcessWindow } from './lib/process-window.ts';
import {
  caPath,
  cli,
  cliOk,
  createStack,
  downAndTeardown,
  eventually,
  FIXTURES,
  machineLine,
  runBench,
  sleep,
} from './lib/stack.ts';
import { fmt, median, percentile, ratio, table } from './lib/stats.ts';

const WINDOW_MS = Number(process.env['BENCH_WINDOW_S'] ?? 60) * 1000;
/** After up or apply, before a window: start-up work (loading, first certificates) is over. */
const SETTLE_MS = 20_000;
const PAGE_EVERY_MS = 5_000;
const BUDGET = { rssMb: 150, cpuPercent: 1 };
// High ports only: the gateway's defaults (80, 443) belong to the tests.
const HTTPS_PORT = 29443;
const DASHBOARD_PORT = 29283;
const HOST = 'ops.localhost';
const PAGES = ['/', '/services/web', '/routes', '/backups', '/secrets', '/monitors', '/deploys'];
const USER = { name: 'bench', password: 'a bench password of some length' };

function stackYaml(dashboard: boolean): string {
  return [
    'name: bench-dashboard',
    'nodes:',
    '  local: { address: 127.0.0.1, gateway: true }',
    `gateway: { http_port: 29080, https_port: ${HTTPS_PORT} }`,
    'services:',
    '  web:',
    '    run: { command: [node, hello-server.js] }',
    '    ports: { http: 29100 }',
    "    env: { PORT: '${port}' }",
    '    health: { http: { path: /health } }',
    '    routes: [{ host: web.localhost }]',
    ...(dashboard ? [`dashboard: { host: ${HOST}, port: ${DASHBOARD_PORT} }`] : []),
    '',
  ].join('\n');
}

/** A browser's side of the dashboard through the gateway: a cookie jar and the CA. */
class DashboardClient {
  private cookies = new Map<string, string>();
  private readonly origin = `https://${HOST}:${HTTPS_PORT}`;

  constructor(private readonly ca: string) {}

  request(
    method: string,
    pathname: string,
    body?: URLSearchParams,
  ): Promise<{ status: number; text: string; location?: string }> {
    return new Promise((resolve, reject) => {
      const payload = body?.toString();
      const request = https.request(
        {
          host: '127.0.0.1',
          port: HTTPS_PORT,
          servername: HOST,
          ca: this.ca,
          method,
          path: pathname,
          headers: {
            host: `${HOST}:${HTTPS_PORT}`,
            cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
            ...(payload !== undefined && {
              origin: this.origin,
              'content-type': 'application/x-www-form-urlencoded',
              'content-length': Buffer.byteLength(payload),
            }),
          },
        },
        (response) => {
          for (const line of response.headers['set-cookie'] ?? []) {
            const [pair] = line.split(';');
            const at = pair!.indexOf('=');
            this.cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
          }
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              text,
              ...(response.headers.location !== undefined && {
                location: response.headers.location,
              }),
            }),
          );
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
  }

  async logIn(): Promise<void> {
    const form = await this.request('GET', '/login');
    const csrf = /name="csrf" value="([^"]+)"/.exec(form.text)?.[1];
    if (!csrf) throw new Error(`no login form (HTTP ${form.status})`);
    const answer = await this.request(
      'POST',
      '/login',
      new URLSearchParams({ username: USER.name, password: USER.password, csrf, next: '/' }),
    );
    if (answer.status !== 303 || answer.location?.includes('/login'))
      throw new Error(`login refused (HTTP ${answer.status} to ${answer.location})`);
  }

  /** An EventSource's connection: open until `signal` aborts. */
  openEvents(signal: AbortSignal): void {
    const request = https.get({
      host: '127.0.0.1',
      port: HTTPS_PORT,
      servername: HOST,
      ca: this.ca,
      path: '/api/v1/events',
      headers: {
        host: `${HOST}:${HTTPS_PORT}`,
        accept: 'text/event-stream',
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      },
      signal,
    });
    request.on('response', (response) => response.resume());
    request.on('error', () => undefined);
  }
}

/** Loads every page every PAGE_EVERY_MS until stopped; each page's times in ms. */
function browse(client: DashboardClient): { stop(): Promise<Map<string, number[]>> } {
  const times = new Map<string, number[]>(PAGES.map((page) => [page, []]));
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const round = performance.now();
      for (const page of PAGES) {
        const started = performance.now();
        const answer = await client.request('GET', page);
        if (answer.status !== 200) throw new Error(`${page}: HTTP ${answer.status}`);
        times.get(page)!.push(performance.now() - started);
      }
      await sleep(Math.max(0, PAGE_EVERY_MS - (performance.now() - round)));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return times;
    },
  };
}

async function main(): Promise<void> {
  console.log(await machineLine('dashboard'));
  const stack = await createStack('dashboard', {
    yaml: stackYaml(false),
    copy: [path.join(FIXTURES, 'hello-server.js')],
  });
  try {
    const up = await cliOk(stack, ['up', '--detach', '--timeout', '60', '-f', stack.file]);
    if (/running from source/.test(up.stderr))
      console.log('note: the sources changed since the build: this measures tsx, not an install');
    const daemon = await eventually(
      async () => (await readEndpoint(stack.stateDir))?.pid,
      20_000,
      'the daemon',
    );
    const pids = { daemon };
    await sleep(SETTLE_MS);
    const windows: [string, ProcessWindow][] = [];
    windows.push(['no dashboard', await measureWindow(pids, WINDOW_MS)]);

    await writeFile(stack.file, stackYaml(true));
    await cliOk(stack, ['apply', '-f', stack.file, '--timeout', '60']);
    const added = await cli(
      stack,
      ['dashboard', 'user', 'add', USER.name, '-f', stack.file],
      60_000,
      USER.password,
    );
    if (added.code !== 0) throw new Error(`dashboard user add: ${added.stderr}`);
    await sleep(SETTLE_MS);
    windows.push(['dashboard idle', await measureWindow(pids, WINDOW_MS)]);

    const client = new DashboardClient(await readFile(caPath(stack), 'utf8'));
    await client.logIn();
    const events = new AbortController();
    client.openEvents(events.signal);
    const browsing = browse(client);
    let times: Map<string, number[]>;
    try {
      windows.push(['dashboard in use', await measureWindow(pids, WINDOW_MS)]);
    } finally {
      times = await browsing.stop();
      events.abort();
    }

    const [base] = windows[0]!;
    const baseline = windows[0]![1];
    const rows = [['window', 'daemon CPU %', `vs ${base}`, 'daemon RSS MB', `vs ${base}`]];
    for (const [name, window] of windows)
      rows.push([
        name,
        fmt(window.cpuPercent['daemon']!),
        ratio(window.cpuPercent['daemon']!, baseline.cpuPercent['daemon']!),
        fmt(window.rssMb['daemon']!),
        ratio(window.rssMb['daemon']!, baseline.rssMb['daemon']!),
      ]);
    console.log(`\n${WINDOW_MS / 1000} s windows, one daemon (hub + agent):`);
    console.log(table(rows));
    const pageRows = [['page (through the gateway)', 'loads', 'median ms', 'p95 ms']];
    for (const [page, ms] of times)
      pageRows.push([page, String(ms.length), fmt(median(ms)), fmt(percentile(ms, 95))]);
    console.log(table(pageRows));
    const idle = windows[1]![1];
    const pass =
      idle.rssMb['daemon']! <= BUDGET.rssMb && idle.cpuPercent['daemon']! <= BUDGET.cpuPercent;
    console.log(
      `budget, dashboard idle: ≤ ${BUDGET.rssMb} MB RSS and ≤ ${BUDGET.cpuPercent} % of a core: ${fmt(idle.rssMb['daemon']!)} MB, ${fmt(idle.cpuPercent['daemon']!)} % ${pass ? 'PASS' : 'FAIL'}`,
    );
  } finally {
    await downAndTeardown(stack);
  }
}

runBench(main);
