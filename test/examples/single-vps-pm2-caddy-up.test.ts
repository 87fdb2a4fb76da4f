// examples/single-vps-pm2-caddy really runs: `flotilla up` on this machine brings up its
// PostgreSQL (the wrapper finds the installed server and creates the cluster) and its four
// Node services behind Caddy, a row goes into PostgreSQL through db.example.com and comes
// back, the database backup job saves it, and `down` stops it all. The example runs from a
// copy with these changes only, so it can share this machine with other tests: its fixed
// ports (gateway and services) move to free ones, its backup repository moves from
// /root/backups into the copy, and its hosts move from example.com to example.test, since a
// public CA (Let's Encrypt for example.com) cannot be reached here and Caddy's own CA
// serves .test.
import { chmod, cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../src/hub/status-report.ts';
import { resolveUser } from '../../src/system/users.ts';
import { isAlive } from '../../src/system/proc.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';
import { gatewayRequest } from '../helpers/https-get.ts';
import { freePort } from '../helpers/ports.ts';
import { EXAMPLES_DIR } from './load-example.ts';
import { psqlAsPostgres } from './psql-as-postgres.ts';

const isRoot = process.getuid?.() === 0;

// Every secret the example names, as the operator would set them.
const SECRETS: Record<string, string> = {
  TWILIO_AUTH_TOKEN: 'twilio-test-token',
  DEEPGRAM_API_KEY: 'deepgram-test-key',
  ELEVENLABS_API_KEY: 'elevenlabs-test-key',
  DB_PROXY_API_KEY: 'db-proxy-test-key',
  CMB_USER_DB_PASSWORD: 'cmb-user-test-password',
  LOG_QUERY_DB_PASSWORD: 'log-query-test-password',
  LOG_QUERY_ADMIN_TOKEN: 'log-query-admin-test-token',
  RESTIC_PASSWORD: 'restic-test-password',
};

interface ServiceDocument {
  ports?: Record<string, number>;
  routes?: { host: string }[];
}

/** The example's flotilla.yml with free ports, .test hosts and its backups in `dir`. */
async function isolatedCopy(file: string, dir: string): Promise<void> {
  const document = parse(await readFile(file, 'utf8')) as {
    domain: string;
    gateway?: Record<string, number>;
    services: Record<string, ServiceDocument>;
    backups: { targets: Record<string, { repository: string }> };
  };
  document.backups.targets['local']!.repository = path.join(dir, 'restic');
  const toTest = (host: string) => host.replace(/\.example\.com$/, '.example.test');
  document.domain = toTest(`x.${document.domain}`).slice(2);
  document.gateway = { http_port: await freePort(), https_port: await freePort() };
  for (const service of Object.values(document.services)) {
    for (const name of Object.keys(service.ports ?? {})) service.ports![name] = await freePort();
    for (const route of service.routes ?? []) route.host = toTest(route.host);
  }
  await writeFile(file, stringify(document));
}

describe.skipIf(!isRoot)('single-vps-pm2-caddy on this machine', { timeout: 120_000 }, () => {
  let dir: string;
  let file: string;
  let env: NodeJS.ProcessEnv;
  let stack: { gateway: { https_port: number }; services: Record<string, ServiceDocument> };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-pm2-caddy-'));
    // The postgres user runs the wrapper from here and reaches its data dir through it.
    await chmod(dir, 0o755);
    await cp(path.join(EXAMPLES_DIR, 'single-vps-pm2-caddy'), dir, { recursive: true });
    // In place, the services would load `pg` and their ES module type from the repository.
    await symlink(path.resolve('node_modules'), path.join(dir, 'node_modules'));
    await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
    file = path.join(dir, 'flotilla.yml');
    await isolatedCopy(file, dir);
    stack = parse(await readFile(file, 'utf8')) as typeof stack;
    env = { FLOTILLA_STATE_DIR: path.join(dir, 'state') };
    // All in one `secrets import` (a file, never argv): one CLI start instead of eight.
    const secretsFile = path.join(dir, 'secrets.env');
    const lines = Object.entries(SECRETS).map(([name, value]) => `${name}=${value}\n`);
    await writeFile(secretsFile, lines.join(''), { mode: 0o600 });
    const imported = await flotilla(['secrets', 'import', secretsFile, '-f', file], env);
    expect(imported.code, imported.stderr).toBe(0);
  }, 30_000);

  afterAll(async () => {
    if (!dir) return;
    await flotilla(['down', '-f', file], env);
    await rm(dir, { recursive: true, force: true });
  });

  it('comes up healthy, stores a row through db.example.test, backs it up, and stops on down', async () => {
    const up = await flotilla(['up', '--detach', '--timeout', '60', '-f', file], env);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toContain('every service healthy and routed');

    const status = await flotilla(['status', '--json', '-f', file], env);
    const report = JSON.parse(status.stdout) as StatusReport;
    expect(report.instances.map((instance) => [instance.id, instance.healthy]).sort()).toEqual(
      ['db-proxy', 'deepgram-proxy', 'log-query-service', 'postgres', 'voice-pipeline'].map(
        (service) => [`${service}-1`, true],
      ),
    );
    // The supervised PID is the PostgreSQL server itself, run as postgres: the wrapper execs.
    const postgresPid = report.instances.find((instance) => instance.id === 'postgres-1')!.pid!;
    expect(await readFile(`/proc/${postgresPid}/comm`, 'utf8')).toBe('postgres\n');
    const procStatus = await readFile(`/proc/${postgresPid}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(procStatus)?.[1]).toBe(String(resolveUser('postgres').uid));

    const ca = await readFile(
      path.join(dir, 'state/caddy/storage/pki/authorities/local/root.crt'),
      'utf8',
    );
    const port = stack.gateway.https_port;
    const dbProxy = (body: unknown, key = SECRETS['DB_PROXY_API_KEY']!) =>
      gatewayRequest({
        host: 'db.example.test',
        path: '/query',
        port,
        ca,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify(body),
      });
    const logs = await gatewayRequest({ host: 'logs.example.test', path: '/health', port, ca });
    expect(logs).toEqual({ status: 200, body: '{"ok":true}' });

    // The one step the operator does by hand, once: the role gets the password db-proxy has.
    const socketDir = path.join(dir, 'state/data/postgres');
    const postgresPort = stack.services['postgres']!.ports!['main']!;
    await psqlAsPostgres(
      socketDir,
      postgresPort,
      `ALTER ROLE cmb_user PASSWORD '${SECRETS['CMB_USER_DB_PASSWORD']}';`,
    );

    expect((await dbProxy({ sql: 'SELECT 1' }, 'wrong-key')).status).toBe(401);
    expect(
      await dbProxy({ sql: 'CREATE TABLE calls (id serial PRIMARY KEY, caller text NOT NULL)' }),
    ).toMatchObject({ status: 200 });
    expect(
      await dbProxy({ sql: 'INSERT INTO calls (caller) VALUES ($1)', params: ['+15550100'] }),
    ).toMatchObject({ status: 200 });
    const read = await dbProxy({ sql: 'SELECT caller FROM calls' });
    expect(JSON.parse(read.body)).toEqual({ rows: [{ caller: '+15550100' }] });
    // And it is in PostgreSQL itself, owned by the role db-proxy logs in as.
    expect(
      await psqlAsPostgres(
        socketDir,
        postgresPort,
        "SELECT caller, tableowner FROM calls, pg_tables WHERE tablename = 'calls';",
      ),
    ).toBe('+15550100|cmb_user');
    // The backup job logs in the way the wrapper's pg_hba.conf lets it (postgres, loopback).
    const backup = await flotilla(['backup', 'run', 'postgres', '-f', file], env);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);

    const down = await flotilla(['down', '-f', file], env);
    expect(down.code, down.stderr).toBe(0);
    for (const instance of report.instances)
      expect(isAlive(instance.pid!), `${instance.id} after down`).toBe(false);
  });
});
