// A real Prometheus (the Debian package's 2.42) scrapes the hub's metrics endpoint with its
// bearer token from a credentials file, every second: the target is healthy, and the values
// and labels arrive as the snapshot says, none of them renamed by Prometheus.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetricsServer, type MetricsServer } from '../../../src/hub/metrics/metrics-server.ts';
import { freePort } from '../../helpers/ports.ts';
import { clusterSnapshot } from './cluster-snapshot.ts';

/** How long Prometheus may take to start and scrape once (a loaded machine is slow). */
const FIRST_SCRAPE_MS = 30_000;

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('a real Prometheus scraping the hub', { timeout: 60_000 }, () => {
  let dir: string;
  let server: MetricsServer;
  let prometheus: ChildProcess | undefined;
  let api: string;
  let log = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-prometheus-'));
    const token = randomBytes(24).toString('base64url');
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, token, { mode: 0o600 });
    server = await startMetricsServer({
      hosts: ['127.0.0.1'],
      port: 0,
      token,
      snapshot: clusterSnapshot,
    });
    const config = path.join(dir, 'prometheus.yml');
    // JSON is YAML: the config needs no YAML writer.
    await writeFile(
      config,
      JSON.stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s' },
        scrape_configs: [
          {
            job_name: 'flotilla',
            authorization: { credentials_file: tokenFile },
            static_configs: [{ targets: [new URL(server.urls[0]!).host] }],
          },
        ],
      }),
    );
    const listen = `127.0.0.1:${await freePort()}`;
    api = `http://${listen}/api/v1`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=${listen}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    prometheus.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    prometheus.on('error', (error) => (log += `could not start prometheus: ${error.message}\n`));
  });

  afterAll(async () => {
    const child = prometheus;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function query(expression: string): Promise<Sample[]> {
    const response = await fetch(`${api}/query?query=${encodeURIComponent(expression)}`);
    const body = (await response.json()) as { status: string; data: { result: Sample[] } };
    expect(body.status).toBe('success');
    return body.data.result;
  }

  /** Polls until Prometheus has scraped `expression` (bounded; its log on a timeout). */
  async function scraped(expression: string): Promise<Sample[]> {
    const deadline = Date.now() + FIRST_SCRAPE_MS;
    for (;;) {
      if (prometheus?.exitCode !== null) throw new Error(`prometheus exited:\n${log}`);
      const result = await query(expression).catch(() => []);
      if (result.length > 0) return result;
      if (Date.now() > deadline)
        throw new Error(`no ${expression} after ${FIRST_SCRAPE_MS} ms; prometheus said:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  it('scrapes the endpoint with its token and stores the values and labels', async () => {
    const nodes = await scraped('flotilla_node_up');
    const up = Object.fromEntries(nodes.map((sample) => [sample.metric.node, sample.value[1]]));
    expect(up).toEqual({ compute: '1', storage: '1', edge: '0' });
    expect(nodes[0]!.metric).toMatchObject({ stack: 'salem', job: 'flotilla' });

    const restarts = await query('flotilla_instance_restarts_total{instance_id="api-2"}');
    expect(restarts).toHaveLength(1);
    expect(restarts[0]!.value[1]).toBe('7');
    expect(restarts[0]!.metric).toMatchObject({ service: 'api', node: 'compute' });
    expect(
      Object.keys(restarts[0]!.metric).filter((label) => label.startsWith('exported_')),
    ).toEqual([]);

    const down = await query('flotilla_monitor_state{state="down"} == 1');
    expect(down.map((sample) => sample.metric.monitor)).toEqual(['node:edge']);
    const backup = await query('flotilla_backup_last_size_bytes{backup_job="postgres"}');
    expect(backup[0]!.value[1]).toBe(String(50 * 2 ** 20));

    const targets = (await (await fetch(`${api}/targets`)).json()) as {
      data: { activeTargets: { health: string; scrapeUrl: string; lastError: string }[] };
    };
    expect(targets.data.activeTargets).toHaveLength(1);
    expect(targets.data.activeTargets[0]).toMatchObject({
      health: 'up',
      scrapeUrl: server.urls[0],
      lastError: '',
    });
  });
});
