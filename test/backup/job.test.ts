// Resolving backup jobs from a stack file and its plan: names, where the job runs, the
// service's port, secrets in the target, templates in a command, and clear errors.
import { describe, expect, it } from 'vitest';
import { BackupError } from '../../src/backup/backup-error.ts';
import { jobNames, jobSecretNames } from '../../src/backup/job.ts';
import { loadStack, resolveJobs } from './fixtures/stack.ts';

const STACK = `
name: salem
nodes:
  storage: { address: 203.0.113.10, labels: [storage] }
  compute: { address: 203.0.113.11, gateway: true }
services:
  postgres:
    node: storage
    run: { command: [postgres, -p, '\${port}'] }
    ports: { main: 5432, metrics: 9187 }
    backup: { kind: postgres, schedule: '0 2 * * *', timezone: Europe/Paris, to: r2 }
  cache:
    node: compute
    replicas: 2
    run: { command: [redis-server, --port, '\${port}'] }
    ports: { main: 6379 }
  api:
    node: compute
    run: { command: [node, server.js] }
    ports: { http: 3000 }
    backup:
      kind: command
      command: [export, '--db', '\${postgres.address}', '--cache', '\${cache.address}', '--self', '\${port}', '--dir', '\${data}']
      schedule: '0 3 * * *'
      to: local
      hooks: { pre: [[sync]] }
      heartbeat: https://kuma.example.com/api/push/abc
backups:
  targets:
    r2:
      repository: s3:https://acct.r2.example.com/backups
      password: \${secret:RESTIC_PASSWORD}
      env: { AWS_ACCESS_KEY_ID: '\${secret:R2_KEY}', AWS_SECRET_ACCESS_KEY: '\${secret:R2_SECRET}' }
      cacert: certs/ca.pem
    local: { repository: /var/backups/restic, password: plain-text-password }
  jobs:
    n8n: { service: postgres, kind: postgres, database: n8n, schedule: '0 4 * * *', to: r2, keep: { daily: 3 } }
    cache: { service: cache, kind: redis, schedule: '*/30 * * * *', to: local }
    media: { node: storage, kind: files, paths: [media, /srv/uploads], exclude: ['*.tmp'], schedule: '0 5 * * *', to: local }
`;

const SECRETS = {
  RESTIC_PASSWORD: 'restic-pw',
  R2_KEY: 'key-id',
  R2_SECRET: 'key-secret',
};

const resolve = (names: string[], secrets: Record<string, string> = SECRETS) =>
  resolveJobs(STACK, '/srv/stack', secrets, names);

describe('backup jobs', () => {
  it("are named after the service for a service's backup, and by key for backups.jobs", () => {
    expect(jobNames(loadStack(STACK))).toEqual(['postgres', 'api', 'n8n', 'cache', 'media']);
  });

  it('a postgres job dumps the service on its node, over loopback on its first port', () => {
    const [postgres, n8n] = resolve(['postgres', 'n8n']);
    expect(postgres).toMatchObject({
      name: 'postgres',
      stack: 'salem',
      node: 'storage',
      service: 'postgres',
      schedule: '0 2 * * *',
      timezone: 'Europe/Paris',
      verify: '0 4 * * 0',
      keep: { daily: 7, weekly: 4, monthly: 6, yearly: 2 },
      source: {
        kind: 'postgres',
        host: '127.0.0.1',
        port: 5432,
        user: 'postgres',
        database: 'postgres',
      },
      target: {
        name: 'r2',
        repository: 's3:https://acct.r2.example.com/backups',
        password: 'restic-pw',
        env: { AWS_ACCESS_KEY_ID: 'key-id', AWS_SECRET_ACCESS_KEY: 'key-secret' },
        cacert: '/srv/stack/certs/ca.pem',
      },
      hooks: { pre: [], post: [] },
    });
    expect(n8n).toMatchObject({
      node: 'storage',
      keep: { daily: 3 },
      source: { kind: 'postgres', database: 'n8n' },
    });
  });

  it("a redis job targets the service's first instance", () => {
    const [cache] = resolve(['cache']);
    expect(cache).toMatchObject({
      node: 'compute',
      source: { kind: 'redis', host: '127.0.0.1', port: 6379 },
    });
  });

  it('a files job resolves relative paths against the stack file', () => {
    const [media] = resolve(['media']);
    expect(media).toMatchObject({
      node: 'storage',
      source: { kind: 'files', paths: ['/srv/stack/media', '/srv/uploads'], exclude: ['*.tmp'] },
    });
  });

  it('a relative local repository is relative to the stack file, like every path in it', () => {
    const relative = STACK.replace('repository: /var/backups/restic', 'repository: ./restic');
    const [media] = resolveJobs(relative, '/srv/stack', SECRETS, ['media']);
    expect(media?.target.repository).toBe('/srv/stack/restic');
  });

  it("a command's templates resolve as seen from the service's node", () => {
    const [api] = resolve(['api']);
    expect(api?.source).toEqual({
      kind: 'command',
      command: [
        'export',
        '--db',
        // postgres is on another node: its mesh address.
        expect.stringMatching(/^100\.96\.\d+\.\d+:5432$/),
        '--cache',
        '127.0.0.1:6379',
        '--self',
        '3000',
        '--dir',
        '/srv/stack/data/api',
      ],
    });
    expect(api).toMatchObject({
      node: 'compute',
      cwd: '/srv/stack',
      hooks: { pre: [['sync']] },
      heartbeat: 'https://kuma.example.com/api/push/abc',
    });
  });

  it('need exactly the secrets their targets name (a command may not name any)', () => {
    const stack = loadStack(STACK);
    expect([...jobSecretNames(stack, ['postgres'])].sort()).toEqual([
      'R2_KEY',
      'R2_SECRET',
      'RESTIC_PASSWORD',
    ]);
    expect([...jobSecretNames(stack, ['api'])]).toEqual([]);
    expect([...jobSecretNames(stack, ['media'])]).toEqual([]);
  });

  it('a missing secret is an error naming the job and the secret', () => {
    const without: Record<string, string> = { ...SECRETS };
    delete without.R2_SECRET;
    const error = (() => {
      try {
        resolve(['n8n'], without);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(BackupError);
    expect(error).toMatchObject({
      message: 'backup job n8n: secret R2_SECRET is not set',
      hint: 'flotilla secrets set R2_SECRET',
    });
  });

  it('an unknown job name lists the jobs there are', () => {
    expect(() => resolve(['postgress'])).toThrow('no backup job named postgress');
  });

  it('a backups.jobs key that repeats a service with a backup is an error', () => {
    const clash = STACK.replace(
      '    n8n: { service: postgres',
      '    postgres: { service: postgres',
    );
    expect(() => resolveJobs(clash, '/srv/stack', SECRETS, ['postgres'])).toThrow(
      'two backup jobs are named postgres',
    );
  });

  it('a postgres job that names a node but no service cannot find its database', () => {
    const nodeOnly = STACK.replace(
      "    n8n: { service: postgres, kind: postgres, database: n8n, schedule: '0 4 * * *'",
      "    n8n: { node: storage, kind: postgres, database: n8n, schedule: '0 4 * * *'",
    );
    expect(() => resolveJobs(nodeOnly, '/srv/stack', SECRETS, ['n8n'])).toThrow(
      'backup job n8n: a postgres job names the service it saves',
    );
  });
});
