// `flotilla import compose` on Compose files written for these tests, the way
// self-hosting stacks use the specification. Each result is parsed back and validated by
// the project's own stack loader; the assertions are on that stack and on the report.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  importCompose,
  type ComposeImportOptions,
} from '../../src/import/compose/import-compose.ts';
import { ImportProblems, type ImportError } from '../../src/import/errors.ts';
import { importFailure } from './import-failure.ts';
import type { Note, NoteKind } from '../../src/import/report.ts';
import { planStack } from '../../src/plan/plan.ts';
import { renderTemplate } from '../../src/spec/interpolation.ts';
import { parseStackText } from '../../src/spec/load.ts';
import type { Stack } from '../../src/spec/schema.ts';

const FIXTURES = path.resolve('test/import/compose');

/**
 * Malformed files are written here by the tests: the repository's formatter would refuse
 * (or repair) them as files.
 */
const MALFORMED: Record<string, string> = {
  'bad-indent.yml':
    'services:\n  web:\n    image: nginx\n    ports:\n    - "80:80"\n     environment:\n      A: 1\n',
  'duplicate-key.yml': 'services:\n  web:\n    image: nginx\n    image: httpd\n',
  'services-list.yml': 'services:\n  - web\n  - db\n',
  'unknown-anchor.yml': 'services:\n  web:\n    <<: *missing\n    image: nginx\n',
  'bad-interpolation.yml': 'services:\n  web:\n    image: nginx\n    command: "echo ${UNCLOSED"\n',
  'empty.yml': '',
  'required-variable.yml': 'services:\n  web:\n    image: ${IMAGE:?IMAGE must name the image}\n',
  'extends-loop.yml': 'services:\n  web:\n    extends: web\n    image: nginx\n',
};
let malformedDir: string;
beforeAll(async () => {
  malformedDir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-import-malformed-'));
  for (const [name, text] of Object.entries(MALFORMED))
    await writeFile(path.join(malformedDir, name), text);
});
afterAll(async () => {
  await rm(malformedDir, { recursive: true, force: true });
});

/** Imports a fixture with the stack file beside it, and loads the text back as `up` would. */
async function imported(
  fixture: string,
  options: Partial<ComposeImportOptions> = {},
): Promise<{ stack: Stack; text: string; notes: Note[]; secrets: Map<string, string> }> {
  const file = fixture.startsWith('malformed/')
    ? path.join(malformedDir, fixture.slice('malformed/'.length))
    : path.join(FIXTURES, fixture);
  const result = await importCompose({
    file,
    output: path.join(path.dirname(file), 'flotilla.yml'),
    environment: {},
    ...options,
  });
  const loaded = parseStackText(result.text, 'flotilla.yml');
  if (!loaded.ok) throw new Error(loaded.diagnostics.map((d) => d.message).join('\n'));
  return {
    stack: loaded.stack,
    text: result.text,
    notes: result.report.notes,
    secrets: result.report.secrets,
  };
}

/** The note about `notePath` (of `kind`, when given); fails listing the notes there are. */
function noteAbout(notes: Note[], notePath: string, kind?: NoteKind): Note {
  const found = notes.find(
    (note) => note.path === notePath && (kind === undefined || note.kind === kind),
  );
  if (!found)
    throw new Error(
      `no ${kind ?? ''} note about ${notePath}; notes:\n${notes.map((note) => `${note.kind} ${note.path}`).join('\n')}`,
    );
  return found;
}

function failure(
  fixture: string,
  options: Partial<ComposeImportOptions> = {},
): Promise<ImportError> {
  return importFailure(imported(fixture, options));
}

describe('a typical app: web + worker from one image, PostgreSQL, Redis', () => {
  it('maps each service, its command, ports, env, volumes, health and dependencies', async () => {
    const { stack } = await imported('app-stack/docker-compose.yml');
    expect(stack.name).toBe('shop');
    expect(Object.keys(stack.services)).toEqual(['web', 'worker', 'db', 'cache']);
    const { web, worker, db, cache } = stack.services;
    expect(web).toMatchObject({
      image: 'ghcr.io/acme/shop:1.4',
      command: ['bundle', 'exec', 'puma', '-C', 'config/puma.rb'],
      ports: { http: 3000 },
      env_files: ['./shop.env'],
      depends_on: ['db', 'cache'],
      restart: 'always',
      health: {
        exec: { command: ['/bin/sh', '-c', 'curl -fsS http://localhost:3000/up || exit 1'] },
        interval: '15s',
        timeout: '3s',
        unhealthy_threshold: 5,
      },
    });
    expect(web!.env).toMatchObject({
      REDIS_URL: 'redis://cache:6379/0',
      RAILS_LOG_TO_STDOUT: 'true',
    });
    expect(worker).toMatchObject({
      command: ['bundle', 'exec', 'sidekiq', '-C', 'config/sidekiq.yml'],
      replicas: 2,
      memory: '512m',
      cpus: 0.5,
      env: { SIDEKIQ_CONCURRENCY: 5, REDIS_URL: 'redis://cache:6379/0' },
    });
    expect(db).toMatchObject({
      image: 'postgres:16-alpine',
      ports: { postgres: 5432 },
      volumes: [
        'pgdata:/var/lib/postgresql/data',
        './db/init.sql:/docker-entrypoint-initdb.d/init.sql:ro',
      ],
    });
    expect(cache).toMatchObject({
      command: ['redis-server', '--save', '60', '1', '--loglevel', 'warning'],
      ports: { redis: 6379 },
      volumes: ['redisdata:/data'],
    });
  });

  it('writes secrets from the file and its .env as ${secret:} references, never their values', async () => {
    const { stack, text, secrets } = await imported('app-stack/docker-compose.yml');
    expect(text).not.toContain('s3cret-from-dotenv');
    expect(text).not.toContain('0123456789abcdef');
    expect(stack.services.web!.env.DATABASE_URL).toBe(
      'postgres://shop:${secret:POSTGRES_PASSWORD}@db:5432/shop',
    );
    expect(stack.services.db!.env.POSTGRES_PASSWORD).toBe('${secret:POSTGRES_PASSWORD}');
    // Required with :? in Compose, but a secret: it goes to the store, not an error.
    expect(stack.services.worker!.env.SECRET_KEY_BASE).toBe('${secret:SECRET_KEY_BASE}');
    expect([...secrets.keys()]).toEqual(['POSTGRES_PASSWORD', 'SECRET_KEY_BASE']);
    expect(secrets.get('POSTGRES_PASSWORD')).toContain('flotilla secrets import');
  });

  it("keeps Compose's $$ literal: the shell in the container expands ${POSTGRES_USER}, not Flotilla", async () => {
    const { stack } = await imported('app-stack/docker-compose.yml');
    const script = stack.services.db!.health!.exec!.command[2]!;
    // Flotilla renders no reference in it: the text reaching the container is the shell's.
    expect(renderTemplate(script, () => 'RESOLVED')).toBe('pg_isready -U ${POSTGRES_USER} -d shop');
  });

  it('suggests a route for the published HTTP port, which is valid once added', async () => {
    const { stack, text, notes } = await imported('app-stack/docker-compose.yml');
    expect(stack.services.web!.routes).toEqual([]);
    expect(text).toContain('#   routes: [{ host: web.example.com, port: http }]');
    expect(noteAbout(notes, 'services.web.routes', 'suggestion').at).toMatchObject({
      line: 20,
      col: 9,
    });
    const withRoute = text.replace(
      '    image: ghcr.io/acme/shop:1.4\n    command: [bundle, exec, puma',
      '    routes: [{ host: web.example.com, port: http }]\n    image: ghcr.io/acme/shop:1.4\n    command: [bundle, exec, puma',
    );
    const loaded = parseStackText(withRoute, 'flotilla.yml');
    expect(loaded.ok && loaded.stack.services.web!.routes).toEqual([
      { host: 'web.example.com', port: 'http', strip_prefix: false },
    ]);
  });

  it('lists what it does not translate at its line', async () => {
    const { notes } = await imported('app-stack/docker-compose.yml');
    expect(
      noteAbout(notes, 'services.web.healthcheck.start_period', 'untranslated').at,
    ).toMatchObject({ line: 31, col: 7 });
    expect(
      noteAbout(notes, 'services.web.depends_on.cache.condition', 'changed').message,
    ).toContain('healthy');
    expect(noteAbout(notes, 'services.db.image', 'changed').message).toContain('5432');
  });
});

describe('a reverse-proxy stack (Traefik, caddy-docker-proxy labels, nginx-proxy)', () => {
  it('leaves the proxy out: the gateway does its job', async () => {
    const { stack, notes } = await imported('reverse-proxy/compose.yaml');
    expect(Object.keys(stack.services)).toEqual(['whoami', 'grafana', 'blog']);
    expect(noteAbout(notes, 'services.traefik', 'left-out').at).toMatchObject({ line: 3, col: 3 });
    expect(stack.services.whoami!.depends_on).toEqual([]);
    expect(noteAbout(notes, 'services.whoami.depends_on.traefik').message).toContain('left out');
  });

  it('turns routing labels and VIRTUAL_HOST into suggested routes, declaring the port they name', async () => {
    const { stack, notes, text } = await imported('reverse-proxy/compose.yaml');
    expect(stack.services.grafana!.ports).toEqual({ http: 3000 });
    const suggestions = notes
      .filter((note) => note.kind === 'suggestion')
      .map((note) => note.message);
    expect(suggestions).toEqual([
      expect.stringContaining('{ host: whoami.example.com }'),
      expect.stringContaining('{ host: example.com, path: /grafana, port: http }'),
      expect.stringContaining('{ host: blog.example.com, port: http }'),
      expect.stringContaining('{ host: www.blog.example.com, port: http }'),
    ]);
    expect(text).toContain('declare the port the container listens on (ports:) first');
    expect(Object.values(stack.services).every((service) => service.routes.length === 0)).toBe(
      true,
    );
    expect(noteAbout(notes, 'services.grafana.labels', 'untranslated').at.line).toBe(26);
  });
});

describe('depends_on in both forms', () => {
  it('keeps service_healthy and service_started, drops service_completed_successfully', async () => {
    const { stack, notes } = await imported('depends-on/docker-compose.yml');
    expect(stack.services.api!.depends_on).toEqual(['db', 'search']);
    expect(stack.services.web!.depends_on).toEqual(['api', 'db']);
    const dropped = noteAbout(notes, 'services.api.depends_on.migrate.condition', 'untranslated');
    expect(dropped.at).toMatchObject({ line: 11, col: 20 });
    expect(dropped.hint).toContain('migrate');
    expect(noteAbout(notes, 'services.api.depends_on.db.restart', 'untranslated').at.line).toBe(14);
    expect(noteAbout(notes, 'services.api.depends_on.search.required').at.line).toBe(17);
    expect(stack.services.migrate!.restart).toBe('never');
  });
});

describe('ports and volumes, short and long syntax', () => {
  it('declares each container port by name, published where Compose published it', async () => {
    const { stack, notes } = await imported('ports-volumes/docker-compose.yml');
    expect(stack.services.app!.ports).toEqual({
      http: 8080,
      'http-9090': 9090,
      'tcp-6060': 6060,
      'http-5000': 5000,
      'http-5001': 5001,
      'tcp-5002': 5002,
      'http-4000': 4000,
      // Compose published it on 443, the gateway's: the container's own port is free.
      'admin-ui': 8443,
      'http-7000': 7000,
      'tcp-9100': 9100,
    });
    expect(stack.services.app!.container_ports).toEqual({ http: 8000 });
    expect(noteAbout(notes, 'services.app.ports[0]', 'changed').message).toContain(
      "Flotilla publishes it on the node's mesh address or loopback only",
    );
    expect(
      notes.find(
        (note) => note.path === 'services.app.ports[0]' && /container_ports/.test(note.message),
      )?.hint,
    ).toContain('native services and other nodes reach it on 8080');
    expect(
      notes.find((note) => note.path === 'services.app.ports[7]' && /taken by/.test(note.message))
        ?.message,
    ).toBe(
      "port admin-ui: 443 on the node is taken by the gateway (HTTPS), so it is published on 8443, the container's own port",
    );
    expect(noteAbout(notes, 'services.app.ports[4]', 'untranslated').at.line).toBe(9);
    expect(noteAbout(notes, 'services.app.ports[5]', 'untranslated').message).toContain('UDP');
    expect(noteAbout(notes, 'services.app.ports[8].mode', 'untranslated').at.line).toBe(19);
  });

  it('mounts binds relative to the stack file, named volumes by name, read-only where asked', async () => {
    const { stack, notes } = await imported('ports-volumes/docker-compose.yml');
    expect(stack.services.app!.volumes).toEqual([
      './config:/etc/app:ro',
      'data:/var/lib/app',
      '/srv/uploads:/uploads',
      `${os.homedir()}/backups:/backups`,
      './static:/usr/share/static:ro',
      'logs:/var/log/app',
    ]);
    expect(noteAbout(notes, 'services.app.volumes[2]', 'untranslated').message).toContain('"z"');
    expect(noteAbout(notes, 'services.app.volumes[3]', 'untranslated').message).toContain(
      'anonymous',
    );
    expect(noteAbout(notes, 'services.app.volumes[7]', 'untranslated').message).toContain('tmpfs');
    expect(noteAbout(notes, 'volumes.logs.driver', 'untranslated').at.line).toBe(46);
  });

  it('writes paths relative to where the stack file goes', async () => {
    const { stack } = await imported('ports-volumes/docker-compose.yml', {
      output: path.join(FIXTURES, 'out', 'flotilla.yml'),
    });
    expect(stack.services.app!.volumes[0]).toBe('../ports-volumes/config:/etc/app:ro');
  });
});

describe('extends', () => {
  it('merges a service of the same file: environment by key, command replaced', async () => {
    const { stack } = await imported('extends/docker-compose.yml');
    expect(stack.services.api).toMatchObject({
      image: 'ghcr.io/acme/base:1',
      command: ['serve', '--api'],
      env: { LOG_LEVEL: 'debug', REGION: 'eu' },
      ports: { http: 8001 },
      restart: 'always',
    });
  });

  it('reads a service of another file, its paths relative to that file, through a chain', async () => {
    const { stack } = await imported('extends/docker-compose.yml');
    expect(stack.services.worker).toMatchObject({
      image: 'ghcr.io/acme/worker:3',
      env: { QUEUE: 'high', CONCURRENCY: '4' },
      env_files: ['./common/worker.env'],
      volumes: ['./common/data:/data'],
      ports: { 'tcp-9100': 9100, 'tcp-9101': 9101 },
    });
    // !reset removed the inherited healthcheck.
    expect(stack.services.worker!.health).toBeUndefined();
  });

  it('honours !reset and !override', async () => {
    const { stack } = await imported('extends/docker-compose.yml');
    expect(stack.services.scheduler).toMatchObject({
      command: ['schedule'],
      ports: {},
      volumes: ['./schedules:/schedules'],
      env: { QUEUE: 'high' },
    });
  });

  it('refuses a loop', async () => {
    const error = await failure('malformed/extends-loop.yml');
    expect(error.message).toContain('`extends` loops: web → web');
    expect(error.at).toMatchObject({ line: 3, col: 5 });
  });
});

describe('profiles', () => {
  it('leaves out services with a profile unless it is given, and says so', async () => {
    const { stack, notes } = await imported('profiles/docker-compose.yml');
    expect(Object.keys(stack.services)).toEqual(['app', 'db']);
    const adminer = noteAbout(notes, 'services.adminer', 'left-out');
    expect(adminer.at.line).toBe(7);
    expect(adminer.hint).toBe('pass --profile debug to import it');
  });

  it('imports the services of the profiles given (and COMPOSE_PROFILES)', async () => {
    const debug = await imported('profiles/docker-compose.yml', { profiles: ['debug'] });
    expect(Object.keys(debug.stack.services)).toEqual(['app', 'db', 'adminer', 'mailhog']);
    expect(debug.stack.services.adminer!.depends_on).toEqual(['db']);
    const all = await imported('profiles/docker-compose.yml', {
      environment: { COMPOSE_PROFILES: '*' },
    });
    // backup has 0 replicas: Compose does not start it with its profile either.
    expect(Object.keys(all.stack.services)).toEqual(['app', 'db', 'adminer', 'mailhog']);
    expect(noteAbout(all.notes, 'services.backup', 'left-out').message).toContain('0 replicas');
  });
});

describe('anchors and merge keys', () => {
  it('merges anchored mappings, the service’s own keys first, then the merged ones in order', async () => {
    const { stack, notes } = await imported('anchors/docker-compose.yml');
    expect(stack.services.api).toMatchObject({
      restart: 'always',
      stop: { signal: 'SIGTERM', timeout: '20s' },
      env: { TZ: 'Europe/Paris', LOG_FORMAT: 'text' },
    });
    expect(stack.services.jobs).toMatchObject({
      stop: { timeout: '1m30s' },
      env: { TZ: 'Europe/Paris', LOG_FORMAT: 'json' },
    });
    // A note about a merged key points at the anchor, where it is written.
    expect(noteAbout(notes, 'services.api.logging').at).toMatchObject({ line: 2, col: 3 });
  });
});

describe('healthchecks of each form', () => {
  it('maps CMD, CMD-SHELL and a string; NONE, disable and a test-less check are listed', async () => {
    const { stack, notes } = await imported('healthchecks/docker-compose.yml');
    const services = stack.services;
    expect(services['exec-form']!.health).toMatchObject({
      exec: { command: ['/app/healthcheck', '--port', '8080'] },
      interval: '1m30s',
      timeout: '500ms',
      unhealthy_threshold: 2,
    });
    expect(services['shell-form']!.health!.exec!.command).toEqual([
      '/bin/sh',
      '-c',
      'curl -f http://localhost/ || exit 1',
    ]);
    expect(noteAbout(notes, 'services.shell-form.healthcheck.test', 'changed').message).toContain(
      '/bin/sh -c',
    );
    expect(services['string-form']!.health!.exec!.command).toEqual([
      '/bin/sh',
      '-c',
      'wget -q --spider http://localhost:8080/health',
    ]);
    for (const name of ['none-form', 'disabled', 'timing-only'])
      expect(services[name]!.health).toBeUndefined();
    expect(noteAbout(notes, 'services.none-form.healthcheck.test', 'untranslated').at.line).toBe(
      21,
    );
    expect(noteAbout(notes, 'services.disabled.healthcheck.disable', 'untranslated').at.line).toBe(
      25,
    );
    expect(noteAbout(notes, 'services.timing-only.healthcheck', 'untranslated').at.line).toBe(28);
    expect(noteAbout(notes, 'services.string-form.healthcheck.start_interval').at.line).toBe(17);
  });
});

describe('networks', () => {
  it('makes segments of the networks used, internal ones internal, and lists what has no equivalent', async () => {
    const { stack, notes } = await imported('networks/docker-compose.yml');
    expect(stack.networks).toEqual({
      frontend: { internal: false, egress: true },
      backend: { internal: true, egress: false },
      'data-net': { internal: true, egress: false },
    });
    expect(stack.services['proxy-app']!.networks).toEqual(['frontend', 'backend']);
    expect(stack.services.api!.networks).toEqual(['backend', 'data-net']);
    expect(stack.services.loner!.networks).toBeUndefined();
    expect(noteAbout(notes, 'services.api.networks.backend.aliases').at.line).toBe(9);
    expect(noteAbout(notes, 'services.metrics.network_mode').at.line).toBe(17);
    expect(noteAbout(notes, 'networks.backend.ipam').at.line).toBe(25);
  });
});

describe('secrets', () => {
  it('become secret files under names that follow the secret-name rule, each with how to set it', async () => {
    const { stack, secrets, notes } = await imported('secrets/docker-compose.yml');
    expect(stack.services.db!.secret_files).toEqual(['DB_PASSWORD']);
    expect(stack.services.app!.secret_files).toEqual(['DB_PASSWORD', 'API_TOKEN', 'OAUTH_CLIENT']);
    expect(Object.fromEntries(secrets)).toEqual({
      DB_PASSWORD: 'flotilla secrets set DB_PASSWORD --from-file ./secrets/db_password.txt',
      API_TOKEN: 'printf %s "$API_TOKEN" | flotilla secrets set API_TOKEN',
      OAUTH_CLIENT: "flotilla secrets set OAUTH_CLIENT (Compose's secret oauth_client is external)",
    });
    expect(noteAbout(notes, 'services.db.secrets[0]').hint).toContain(
      'name the secret POSTGRES_PASSWORD instead',
    );
    expect(noteAbout(notes, 'services.app.secrets[0].mode', 'untranslated').at.line).toBe(13);
  });
});

describe('interpolation', () => {
  it('resolves ${VAR:-default}, ${VAR-default}, nesting, ${VAR:+alt}, $VAR and $$ from the .env', async () => {
    const { stack, notes } = await imported('interpolation/docker-compose.yml');
    const app = stack.services.app!;
    expect(app.image).toBe('ghcr.io/acme/app:latest');
    expect(app.command).toEqual(['echo', 'from-dotenv']);
    expect(app.env).toEqual({
      EMPTY_DEFAULT: 'fallback',
      EMPTY_DASH: '',
      NESTED: 'us-west',
      ALTERNATIVE: 'region-set',
      PRICE: '$5',
      TEMPLATE: '$${NOT_INTERPOLATED}',
      SHORT_FORM: 'us',
      UNSET_HERE: '',
      DB_PASSWORD: '${secret:DB_PASSWORD}',
    });
    expect(noteAbout(notes, 'services.app.environment.UNSET_HERE').message).toContain(
      'NOT_SET_ANYWHERE is not set',
    );
    expect(noteAbout(notes, 'services.app.environment.FROM_SHELL').message).toContain('left out');
  });

  it('takes the environment over the .env, as Compose does', async () => {
    const { stack } = await imported('interpolation/docker-compose.yml', {
      environment: { GREETING: 'from-environment', FROM_SHELL: 'shell-value', TAG: '2.0' },
    });
    expect(stack.services.app!.command).toEqual(['echo', 'from-environment']);
    expect(stack.services.app!.env.FROM_SHELL).toBe('shell-value');
    expect(stack.services.app!.image).toBe('ghcr.io/acme/app:2.0');
  });

  it('stops on a required variable without a value, with its message', async () => {
    const error = await failure('malformed/required-variable.yml');
    expect(error.message).toBe(
      'required variable IMAGE is missing a value: IMAGE must name the image',
    );
    expect(error.at).toMatchObject({ line: 3, col: 12 });
    const { stack } = await imported('malformed/required-variable.yml', {
      environment: { IMAGE: 'nginx:1.27' },
    });
    expect(stack.services.web!.image).toBe('nginx:1.27');
  });
});

describe('a malformed file: a clear error at its line, never a crash', () => {
  it.each([
    ['bad-indent.yml', 6, 1, 'YAML:'],
    ['duplicate-key.yml', 4, 5, '`image` is already at 3:5'],
    ['services-list.yml', 2, 3, '`services:` must be a mapping'],
    ['unknown-anchor.yml', 3, 9, 'unknown anchor *missing'],
    ['bad-interpolation.yml', 4, 14, 'unterminated ${'],
    ['empty.yml', 1, 1, 'the file is empty'],
  ])('%s', async (file, line, col, message) => {
    const error = await failure(`malformed/${file}`);
    expect(error.message).toContain(message);
    expect(error.at).toMatchObject({ line, col });
  });

  it('a missing file', async () => {
    const error = await failure('no-such-dir/docker-compose.yml');
    expect(error.message).toContain('no such file');
  });

  it('values of the wrong kind are listed, not guessed at', async () => {
    const { stack, notes } = await imported('wrong-types/docker-compose.yml');
    expect(stack.services.web!.image).toBe('nginx:1.27');
    for (const key of [
      'ports',
      'volumes',
      'environment',
      'healthcheck',
      'deploy',
      'depends_on',
      'networks',
      'secrets',
    ])
      expect(
        notes.some(
          (note) => note.path.startsWith(`services.web.${key}`) && note.kind === 'untranslated',
        ),
        key,
      ).toBe(true);
  });
});

describe('keys without an equivalent', () => {
  it('are each listed at their line with a hint; x- extensions and version are not', async () => {
    const { stack, notes } = await imported('unsupported/docker-compose.yml');
    expect(stack.services.tool).toMatchObject({
      user: '1000:1000',
      read_only: true,
      cap_drop: ['ALL', 'MKNOD'],
      stop: { signal: 'SIGQUIT' },
    });
    const lines = Object.fromEntries(
      notes.filter((note) => note.kind === 'untranslated').map((note) => [note.path, note.at.line]),
    );
    expect(lines).toEqual({
      'services.tool.privileged': 5,
      'services.tool.cap_add': 6,
      'services.tool.devices': 8,
      'services.tool.sysctls': 10,
      'services.tool.enviroment': 12,
      'services.tool.container_name': 14,
      'services.tool.hostname': 15,
      'services.tool.working_dir': 16,
      'services.tool.tty': 21,
      'services.tool.ulimits': 22,
      'services.tool.extra_hosts': 24,
      'services.tool.develop': 25,
      includes: 31,
      include: 33,
    });
    expect(noteAbout(notes, 'services.tool.enviroment').hint).toBe('did you mean `environment`?');
    expect(noteAbout(notes, 'includes').hint).toBe('did you mean `include`?');
    expect(notes.every((note) => note.hint !== undefined || note.kind !== 'untranslated')).toBe(
      true,
    );
  });
});

describe('deploy, scale and limits', () => {
  it('maps replicas, limits and restart policies; leaves out a service with 0 replicas', async () => {
    const { stack, notes } = await imported('deploy/docker-compose.yml');
    expect(stack.services.api).toMatchObject({
      replicas: 3,
      memory: '1g',
      cpus: 1.5,
      restart: 'on-failure',
    });
    expect(stack.services.legacy).toMatchObject({
      replicas: 2,
      memory: '256m',
      cpus: 0.25,
      restart: 'on-failure',
    });
    expect(stack.services.off).toBeUndefined();
    expect(noteAbout(notes, 'services.api.deploy.placement', 'untranslated').at.line).toBe(13);
    expect(noteAbout(notes, 'services.legacy.restart', 'changed').message).toContain('5 retries');
  });
});

describe('ports on one node: the gateway’s, the hub’s, two services on one port, replicas', () => {
  it('publishes each port on a free node port, the container listening where it did', async () => {
    const { stack } = await imported('node-ports/docker-compose.yml');
    const ports = Object.fromEntries(
      Object.entries(stack.services).map(([name, service]) => [
        name,
        { ports: service.ports, container_ports: service.container_ports },
      ]),
    );
    expect(ports).toEqual({
      // 80 and 443 are the gateway's: their usual stand-ins.
      web: { ports: { http: 8080, https: 8443 }, container_ports: { http: 80, https: 443 } },
      // 8080 is web's now, 8081 and 8082 api's two replicas: the next free one.
      admin: { ports: { http: 8083 }, container_ports: { http: 80 } },
      api: { ports: { http: 8081 }, container_ports: { http: 3000 } },
      store1: { ports: { http: 9000 }, container_ports: {} },
      store2: { ports: { http: 9001 }, container_ports: { http: 9000 } },
      // 4222 is the hub's bus.
      queue: { ports: { nats: 4223 }, container_ports: { nats: 4222 } },
      db: { ports: { mysql: 3306 }, container_ports: {} },
      legacy: {
        ports: { http: 5000, 'http-5001': 5001, 'tcp-5002': 5002 },
        container_ports: {},
      },
    });
  });

  it('says at the Compose line what it picked and why', async () => {
    const { notes } = await imported('node-ports/docker-compose.yml');
    const moved = notes.filter((note) => /on the node is taken by/.test(note.message));
    expect(moved.map((note) => [note.path, note.at.line, note.message])).toEqual([
      [
        'services.web.ports[0]',
        7,
        'port http: 80 on the node is taken by the gateway (HTTP), so it is published on 8080; the container still listens on 80 (container_ports)',
      ],
      [
        'services.web.ports[1]',
        8,
        'port https: 443 on the node is taken by the gateway (HTTPS), so it is published on 8443; the container still listens on 443 (container_ports)',
      ],
      [
        'services.admin.expose[0]',
        13,
        'port http: 80 on the node is taken by the gateway (HTTP), so it is published on 8083; the container still listens on 80 (container_ports)',
      ],
      [
        'services.store2.expose[0]',
        30,
        'port http: 9000 on the node is taken by `store1` (http), so it is published on 9001; the container still listens on 9000 (container_ports)',
      ],
      [
        'services.queue.image',
        32,
        'port nats: 4222 on the node is taken by the hub’s bus (NATS), so it is published on 4223; the container still listens on 4222 (container_ports)',
      ],
    ]);
    expect(moved[3]!.hint).toBe(
      'containers on its node still reach it at store2:9000, as in Compose; native services and other nodes reach it on 9001, and ${store2.host}:${store2.port.http} is the right address for each',
    );
    expect(noteAbout(notes, 'services.web.ports[2]', 'untranslated').message).toContain(
      'container port 80 is published once',
    );
    expect(noteAbout(notes, 'services.legacy.ports[0]', 'untranslated').message).toContain(
      '"7000-7001" is not a host port',
    );
  });

  it('keeps Compose’s addresses: containers on one node reach each other at the container port', async () => {
    const { stack, text } = await imported('node-ports/docker-compose.yml');
    expect(stack.services.api!.env).toEqual({
      STORE_URL: 'http://store2:9000/bucket',
      QUEUE_URL: 'nats://queue:4222',
    });
    // What the hint on a moved port says: a reference renders the container port for a
    // container on the same node (the stack's Docker network), the node port elsewhere.
    const withReference = text.replace(
      '      STORE_URL: http://store2:9000/bucket\n',
      '      STORE_URL: http://store2:9000/bucket\n      STORE: ${store2.host}:${store2.port.http}\n',
    );
    const loaded = parseStackText(withReference, 'flotilla.yml');
    if (!loaded.ok) throw new Error(loaded.diagnostics.map((d) => d.message).join('\n'));
    const plan = planStack(loaded.stack, {
      stackDir: path.join(FIXTURES, 'node-ports'),
      stateDir: '/var/lib/flotilla',
    });
    const api = plan.desired.local!.instances.find((instance) => instance.service === 'api')!;
    expect(api.env.STORE).toBe('store2:9000');
  });

  it('keeps the route suggestion: the gateway routes to the node port', async () => {
    const { text } = await imported('node-ports/docker-compose.yml');
    expect(text).toContain('#   routes: [{ host: web.example.com, port: http }]');
    const withRoute = text.replace(
      '  web:\n',
      '  web:\n    routes: [{ host: web.example.com, port: http }]\n',
    );
    const loaded = parseStackText(withRoute, 'flotilla.yml');
    if (!loaded.ok) throw new Error(loaded.diagnostics.map((d) => d.message).join('\n'));
    const plan = planStack(loaded.stack, {
      stackDir: path.join(FIXTURES, 'node-ports'),
      stateDir: '/var/lib/flotilla',
    });
    const route = plan.routes.find((entry) => entry.host === 'web.example.com')!;
    expect(JSON.stringify(route.upstreams)).toContain(':8080');
  });

  it('gives no two instances one node port, nor one Flotilla holds', async () => {
    const { stack } = await imported('node-ports/docker-compose.yml');
    const plan = planStack(stack, {
      stackDir: path.join(FIXTURES, 'node-ports'),
      stateDir: '/var/lib/flotilla',
    });
    const used = plan.placement.flatMap((instance) => Object.values(instance.ports));
    expect(plan.placement.filter((instance) => instance.service === 'api')).toHaveLength(2);
    expect(new Set(used).size).toBe(used.length);
    for (const held of [22, 80, 443, 4222, 4280]) expect(used).not.toContain(held);
  });

  it('picks the same ports on every import', async () => {
    const first = await imported('node-ports/docker-compose.yml');
    const second = await imported('node-ports/docker-compose.yml');
    expect(second.text).toBe(first.text);
  });
});

describe('the self-hosting stacks that could not be imported before container_ports', () => {
  it.each([
    ['wordpress', { http: 8000 }, { http: 80 }, 'Compose published it on 8000'],
    ['pihole', { dns: 53, http: 8080 }, { http: 80 }, 'Compose published it on 8080'],
    ['minio', { http: 9002, 'tcp-9001': 9003 }, { http: 9000, 'tcp-9001': 9001 }, undefined],
  ])('%s', async (name, ports, containerPorts, route) => {
    const { stack, text } = await imported(`../corpus/${name}/docker-compose.yml`);
    const service = Object.values(stack.services).find(
      (candidate) => Object.keys(candidate.container_ports).length > 0,
    )!;
    expect(service.ports).toEqual(ports);
    expect(service.container_ports).toEqual(containerPorts);
    if (route !== undefined) expect(text).toContain(route);
  });
});

describe('a result the stack loader refuses', () => {
  it('is not returned: each problem points at the Compose file', async () => {
    const error = await imported('dependency-cycle/docker-compose.yml').then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ImportProblems);
    const [problem] = (error as ImportProblems).problems;
    expect(problem!.message).toContain('dependency cycle: api → worker → api');
    expect(problem!.at).toMatchObject({ line: 7, col: 9 });
    expect(problem!.hint).toBe('remove one of these depends_on entries');
  });
});

describe('every imported fixture', () => {
  it.each([
    'app-stack/docker-compose.yml',
    'reverse-proxy/compose.yaml',
    'depends-on/docker-compose.yml',
    'ports-volumes/docker-compose.yml',
    'extends/docker-compose.yml',
    'profiles/docker-compose.yml',
    'anchors/docker-compose.yml',
    'healthchecks/docker-compose.yml',
    'networks/docker-compose.yml',
    'secrets/docker-compose.yml',
    'interpolation/docker-compose.yml',
    'unsupported/docker-compose.yml',
    'deploy/docker-compose.yml',
    'wrong-types/docker-compose.yml',
    'node-ports/docker-compose.yml',
  ])(
    '%s can be planned: placement, order, reachability, the Caddy and firewall configs',
    async (fixture) => {
      const { stack } = await imported(fixture);
      const plan = planStack(stack, {
        stackDir: path.join(FIXTURES, path.dirname(fixture)),
        stateDir: '/var/lib/flotilla',
      });
      const instances = Object.values(stack.services).reduce(
        (sum, service) => sum + service.replicas,
        0,
      );
      expect(plan.placement).toHaveLength(instances);
      // Every service has its step in the startup order.
      expect(plan.order.flat().sort()).toEqual(Object.keys(stack.services).sort());
      expect(plan.firewall.local).toContain('table inet flotilla');
    },
  );
});
