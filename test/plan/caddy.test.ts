import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  caddyConfig,
  gatewayState,
  localizeGateway,
  PLACEHOLDER_RESOLVER,
  upstreamSets,
  type CaddyOptions,
} from '../../src/plan/caddy.ts';
import type { RouteEntry } from '../../src/plan/routes.ts';
import {
  CADDY,
  caddyEnv,
  freePort,
  startCaddy,
  type CaddyProcess,
} from '../helpers/caddy-process.ts';

const run = promisify(execFile);

function entry(host: string, dials: string[], extra: Partial<RouteEntry> = {}): RouteEntry {
  return {
    host,
    // One service per route unless said otherwise: a service's port has one set of instances.
    service: extra.service ?? `${host.split('.')[0]!}${extra.path?.replaceAll('/', '-') ?? ''}`,
    port: 'http',
    strip_prefix: false,
    tls: host.endsWith('.test') ? 'internal' : 'acme',
    upstreams: dials.map((dial, index) => ({ instance: `i-${index + 1}`, node: 'n1', dial })),
    fallback: dials,
    ...extra,
  };
}

const OPTIONS: CaddyOptions = { httpPort: 8080, httpsPort: 8443 };

const publicCors = {
  origins: ['*'],
  methods: ['GET', 'POST', 'OPTIONS'],
  headers: ['Authorization', 'Content-Type'],
  credentials: false,
};

/** Every object in the config whose `handler` is `name`, depth first. */
function handlers(value: unknown, name: string): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.flatMap((item) => handlers(item, name));
  if (typeof value !== 'object' || value === null) return [];
  const own =
    (value as { handler?: unknown }).handler === name ? [value as Record<string, unknown>] : [];
  return [...own, ...Object.values(value).flatMap((item) => handlers(item, name))];
}

describe('caddyConfig shape', () => {
  const routes = [
    entry('mcp.example.com', ['10.0.0.2:3000']),
    entry('mcp.example.com', ['10.0.0.2:3000'], { path: '/api', strip_prefix: true }),
    entry('mcp.example.com', ['10.0.0.3:4000'], { path: '/api/v2', service: 'v2' }),
    entry('app.test', ['127.0.0.1:3000']),
    entry('down.example.com', []),
  ];

  it('orders hosts, then the longest prefix first, whatever the input order', () => {
    const expected = JSON.stringify(caddyConfig(routes, OPTIONS));
    fc.assert(
      fc.property(fc.shuffledSubarray(routes, { minLength: routes.length }), (shuffled) => {
        expect(JSON.stringify(caddyConfig(shuffled, OPTIONS))).toBe(expected);
      }),
    );
    const server = caddyConfig(routes, OPTIONS).apps.http.servers['gateway']!;
    expect(server.routes.map((route) => route.match?.[0]?.host)).toEqual([
      ['app.test'],
      ['down.example.com'],
      ['mcp.example.com'],
      undefined, // the 404 for everything else
    ]);
    const mcp = server.routes[2]!.handle[0]!['routes'] as { match?: { path: string[] }[] }[];
    expect(mcp.map((route) => route.match?.[0]?.path)).toEqual([
      ['/api/v2', '/api/v2/*'],
      ['/api', '/api/*'],
      undefined,
    ]);
  });

  it('is pure: leaves its input alone and shares no objects between calls', () => {
    const frozen = structuredClone(routes);
    const first = caddyConfig(routes, OPTIONS);
    expect(routes).toEqual(frozen);
    handlers(first, 'reverse_proxy')[0]!['load_balancing'] = 'mutated';
    expect(handlers(caddyConfig(routes, OPTIONS), 'reverse_proxy')[0]!['load_balancing']).not.toBe(
      'mutated',
    );
  });

  it('looks instances up by DNS, load balances with retries and passive checks only', () => {
    const config = caddyConfig(
      [entry('api.example.com', ['127.0.0.1:1', '10.0.0.3:4000'])],
      OPTIONS,
    );
    const [proxy] = handlers(config, 'reverse_proxy');
    const resolver = { addresses: [PLACEHOLDER_RESOLVER] };
    expect(proxy).toMatchObject({
      dynamic_upstreams: { source: 'srv', name: 'http.api.route.flotilla.', resolver },
      // Every placed instance, for when the responder does not answer (its agent is down).
      upstreams: [{ dial: '127.0.0.1:1' }, { dial: '10.0.0.3:4000' }],
      load_balancing: { selection_policy: { policy: 'round_robin' }, try_duration: '5s' },
      // The SRV targets are names: dialled through the same responder.
      transport: { resolver, keep_alive: { idle_timeout: '4s' } },
      health_checks: { passive: { max_fails: 1 } },
    });
    expect(proxy!['health_checks']).not.toHaveProperty('active');
  });

  it('puts who is healthy in the sets, never in the config, while a route has anyone', () => {
    const placed = ['10.0.0.2:3000', '10.0.0.3:3000', '127.0.0.1:3000'];
    const routes = [entry('api.example.com', placed)];
    const all = gatewayState(routes, () => true, OPTIONS);
    fc.assert(
      fc.property(fc.subarray(placed, { minLength: 1 }), (healthy) => {
        const state = gatewayState(routes, (upstream) => healthy.includes(upstream.dial), OPTIONS);
        expect(state.config).toEqual(all.config);
        expect(state.upstreams).toEqual({ 'http.api.route.flotilla.': healthy });
      }),
    );
    expect(upstreamSets(routes)).toEqual(all.upstreams);
  });

  it('answers 503 itself for a route with no healthy instance', () => {
    const routes = [entry('down.example.com', ['10.0.0.2:3000']), entry('none.example.com', [])];
    const { config, upstreams } = gatewayState(routes, () => false, OPTIONS);
    expect(handlers(config, 'reverse_proxy')).toEqual([]);
    expect(handlers(config, 'static_response').slice(0, 2)).toMatchObject([
      { status_code: 503, body: 'no healthy instance of down\n' },
      { status_code: 503, body: 'no healthy instance of none\n' },
    ]);
    expect(upstreams).toEqual({ 'http.down.route.flotilla.': [], 'http.none.route.flotilla.': [] });
  });

  it("puts the node's responder in place of the placeholder resolver, and nothing else", () => {
    const config = caddyConfig([entry('api.example.com', ['127.0.0.1:1'])], OPTIONS);
    const resolver = 'udp/127.0.0.1:40053';
    const localized = localizeGateway(config, resolver);
    expect(JSON.stringify(localized)).toBe(
      JSON.stringify(config).replaceAll(PLACEHOLDER_RESOLVER, resolver),
    );
    expect(JSON.stringify(localized).match(/40053/g)).toHaveLength(2);
    expect(config).toEqual(caddyConfig([entry('api.example.com', ['127.0.0.1:1'])], OPTIONS));
  });

  it('keeps internal hosts away from ACME and the OS trust store', () => {
    const config = caddyConfig(routes, { ...OPTIONS, acmeEmail: 'ops@example.com' });
    expect(config.apps.tls.automation.policies).toEqual([
      { subjects: ['app.test'], issuers: [{ module: 'internal' }] },
      {
        subjects: ['down.example.com', 'mcp.example.com'],
        issuers: [
          {
            module: 'acme',
            email: 'ops@example.com',
            challenges: { http: { alternate_port: 8080 }, 'tls-alpn': { alternate_port: 8443 } },
          },
        ],
      },
    ]);
    expect(config.apps.pki?.certificate_authorities.local.install_trust).toBe(false);
  });

  it("leaves the admin endpoint and storage to the gateway node's agent", () => {
    const config = caddyConfig([entry('api.example.com', ['127.0.0.1:1'])], OPTIONS);
    expect(config).not.toHaveProperty('admin');
    expect(config).not.toHaveProperty('storage');
    expect(config.apps).not.toHaveProperty('pki');
    expect(config.apps.tls.automation.policies).toEqual([
      { subjects: ['api.example.com'], issuers: [expect.objectContaining({ module: 'acme' })] },
    ]);
  });
});

describe('caddy validate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-caddy-validate-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function validate(config: unknown): Promise<void> {
    const file = path.join(dir, 'caddy.json');
    await writeFile(file, JSON.stringify(config));
    await run(CADDY, ['validate', '--config', file], { env: caddyEnv(dir) });
  }

  it('accepts a config using every feature', async () => {
    const hash = '$2a$14$wXw76VZNxWNdihXgtlxvaOunS8l3rNo7Sa4Fn4kh7pr3QGYOEOZ0m';
    const routes = [
      entry('api.example.com', ['127.0.0.1:3000', '100.96.0.2:3000'], {
        cors: {
          origins: ['https://app.example.com'],
          methods: ['GET', 'POST', 'OPTIONS'],
          headers: ['Authorization'],
          credentials: true,
          max_age: '10m',
        },
      }),
      entry('mcp.example.com', ['127.0.0.1:3001'], {
        path: '/api',
        strip_prefix: true,
        basic_auth: { realm: 'mcp', users: [{ username: 'ops', password_hash: hash }] },
        allow: ['192.0.2.0/24'],
      }),
      entry('mcp.example.com', [], { path: '/pub', cors: publicCors }),
      entry('app.test', ['127.0.0.1:3002']),
    ];
    const config = caddyConfig(routes, {
      ...OPTIONS,
      acmeEmail: 'ops@example.com',
      routeMetrics: true,
    });
    await expect(validate(config)).resolves.toBeUndefined();
    await expect(validate(caddyConfig([], OPTIONS))).resolves.toBeUndefined();
  });

  it('is not vacuous: rejects an unknown handler', async () => {
    const config = caddyConfig([entry('app.test', ['127.0.0.1:1'])], OPTIONS);
    config.apps.http.servers['gateway']!.routes.unshift({ handle: [{ handler: 'nope' }] });
    await expect(validate(config)).rejects.toThrow(/nope/);
  });
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe('through a real Caddy', () => {
  const ORIGIN = 'https://app.example';
  let caddy: CaddyProcess;
  let httpsPort: number;
  let httpPort: number;
  let ca: string;
  const backends: http.Server[] = [];
  let healthyAgain: () => Promise<void>;
  const DOWN = 'down-1';

  async function backend(name: string, headers: Record<string, string> = {}): Promise<string> {
    const server = http.createServer((request, response) => {
      response.setHeader('Content-Type', 'text/plain');
      for (const [field, value] of Object.entries(headers)) response.setHeader(field, value);
      response.end(`${name} ${request.url}`);
    });
    backends.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('backend has no port');
    return `127.0.0.1:${address.port}`;
  }

  function get(
    host: string,
    pathname: string,
    headers: Record<string, string> = {},
    method = 'GET',
  ) {
    return new Promise<Reply>((resolve, reject) => {
      const request = https.request(
        {
          host: '127.0.0.1',
          port: httpsPort,
          servername: host,
          path: pathname,
          method,
          headers: { Host: host, ...headers },
          ca,
          agent: false,
        },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
          );
        },
      );
      request.on('error', reject);
      request.end();
    });
  }

  /** A TLS handshake for `host` that the internal CA vouches for. */
  function handshake(host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port: httpsPort, servername: host, ca },
        () => {
          socket.destroy();
          resolve();
        },
      );
      socket.on('error', reject);
    });
  }

  // Caddy issues internal certificates in the background after a load. Handshakes only,
  // so no request reaches a backend (or marks one failed) before the tests do.
  async function untilCertified(hosts: string[]): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (const host of hosts) {
      for (;;) {
        try {
          await handshake(host);
          break;
        } catch (error) {
          if (Date.now() > deadline) {
            throw new Error(`no certificate for ${host}: ${error}\n${await caddy.log()}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    }
  }

  beforeAll(async () => {
    const [hashed, a, b, lax] = await Promise.all([
      run(CADDY, ['hash-password', '--plaintext', 'hunter2']),
      backend('a'),
      backend('b'),
      // A backend with its own, laxer CORS policy that the gateway must override.
      backend('lax', {
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Allow-Credentials': 'true',
      }),
      startCaddy().then((started) => (caddy = started)),
    ]);
    // An instance that died after the hub listed it: nothing listens on its port any more.
    const gone = await backend('gone');
    const goneServer = backends.pop()!;
    await new Promise((resolve) => goneServer.close(resolve));
    [httpPort, httpsPort] = [await freePort(), await freePort()];
    const routes = [
      entry('a.test', [a]),
      entry('mcp.test', [b]),
      entry('mcp.test', [a], { path: '/api', strip_prefix: true }),
      entry('mcp.test', [b], { path: '/api/v2' }),
      entry('only.test', [a], { path: '/only' }),
      entry('lb.test', [a, b]),
      entry('retry.test', [gone, a]),
      { ...entry('down.test', []), upstreams: [{ instance: DOWN, node: 'n1', dial: a }] },
      entry('none.test', []),
      entry('inside.test', [a], { allow: ['10.0.0.0/8', '127.0.0.0/8'] }),
      entry('outside.test', [a], {
        allow: ['192.0.2.0/24'],
        basic_auth: {
          realm: 'flotilla',
          users: [{ username: 'ops', password_hash: hashed.stdout.trim() }],
        },
      }),
      entry('cors.test', [lax], {
        cors: {
          origins: [ORIGIN, 'https://other.example'],
          methods: ['GET', 'POST'],
          headers: ['Authorization', 'Content-Type'],
          credentials: true,
          max_age: '10m',
        },
      }),
      entry('cors.test', [b], { path: '/pub', cors: publicCors }),
      entry('auth.test', [a], {
        cors: { ...publicCors, origins: [ORIGIN] },
        basic_auth: {
          realm: 'flotilla',
          users: [{ username: 'ops', password_hash: hashed.stdout.trim() }],
        },
      }),
    ];
    // down.test has an instance, which the hub does not report healthy (yet).
    await caddy.serve(routes, { httpPort, httpsPort }, (upstream) => upstream.instance !== DOWN);
    ca = await caddy.rootCertificate();
    await untilCertified([...new Set(routes.map((route) => route.host))]);
    healthyAgain = () => caddy.serve(routes, { httpPort, httpsPort });
  });

  afterAll(async () => {
    await caddy?.stop();
    for (const server of backends) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('routes by host over HTTPS signed by the internal CA', async () => {
    expect(await get('a.test', '/hello')).toMatchObject({ status: 200, body: 'a /hello' });
    expect((await get('mcp.test', '/hello')).body).toBe('b /hello');
  });

  it('redirects plain HTTP on http_port to HTTPS', async () => {
    const reply = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http
        .get(
          { host: '127.0.0.1', port: httpPort, path: '/p?q=1', headers: { Host: 'a.test' } },
          resolve,
        )
        .on('error', reject);
    });
    reply.resume();
    expect(reply.statusCode).toBe(308);
    // No port: Caddy takes https_port for the public port (reached through a forward).
    expect(reply.headers.location).toBe('https://a.test/p?q=1');
  });

  it('matches path prefixes by whole segments, longest first, stripping when asked', async () => {
    expect((await get('mcp.test', '/api/x')).body).toBe('a /x');
    expect((await get('mcp.test', '/api')).body).toBe('a /');
    expect((await get('mcp.test', '/api/v2/x')).body).toBe('b /api/v2/x');
    expect((await get('mcp.test', '/apix')).body).toBe('b /apix');
  });

  it('answers 404 for a path no route claims and for an unknown host', async () => {
    expect((await get('only.test', '/only/x')).body).toBe('a /only/x');
    expect(await get('only.test', '/other')).toMatchObject({ status: 404, body: 'no route\n' });
    expect(await get('a.test', '/x', { Host: 'nobody.test' })).toMatchObject({ status: 404 });
  });

  it('spreads requests round robin over the upstreams', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await get('lb.test', '/')).body);
    expect(seen).toEqual(new Set(['a /', 'b /']));
  });

  it('retries another upstream when one is down', async () => {
    for (let i = 0; i < 4; i++) {
      expect(await get('retry.test', '/r')).toMatchObject({ status: 200, body: 'a /r' });
    }
  });

  it('answers 503 with a message when no instance is healthy, or none is placed', async () => {
    // A 502 instead would mean Caddy spent its whole try_duration on an empty set.
    expect(await get('down.test', '/')).toMatchObject({
      status: 503,
      body: 'no healthy instance of down\n',
    });
    expect(await get('none.test', '/')).toMatchObject({
      status: 503,
      body: 'no healthy instance of none\n',
    });
  });

  it('answers a CORS preflight itself', async () => {
    const reply = await get(
      'cors.test',
      '/things',
      { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST' },
      'OPTIONS',
    );
    expect(reply.status).toBe(204);
    expect(reply.body).toBe('');
    expect(reply.headers).toMatchObject({
      'access-control-allow-origin': ORIGIN,
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'Authorization, Content-Type',
      'access-control-allow-credentials': 'true',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
  });

  it('allows only the listed origins on ordinary requests', async () => {
    const allowed = await get('cors.test', '/things', { Origin: ORIGIN });
    expect(allowed).toMatchObject({ status: 200, body: 'lax /things' });
    expect(allowed.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(allowed.headers['vary']).toBe('Origin');

    const denied = await get('cors.test', '/things', { Origin: 'https://evil.example' });
    expect(denied.status).toBe(200);
    expect(denied.headers).not.toHaveProperty('access-control-allow-origin');
    expect(denied.headers).not.toHaveProperty('access-control-allow-credentials');
    expect(denied.headers['vary']).toBe('Origin');

    const wildcard = await get('cors.test', '/pub/x', { Origin: 'https://evil.example' });
    expect(wildcard.body).toBe('b /pub/x');
    expect(wildcard.headers['access-control-allow-origin']).toBe('*');
    expect(wildcard.headers).not.toHaveProperty('access-control-allow-credentials');
  });

  it('requires basic auth, but not for a preflight', async () => {
    const preflight = await get(
      'auth.test',
      '/',
      { Origin: ORIGIN, 'Access-Control-Request-Method': 'GET' },
      'OPTIONS',
    );
    expect(preflight.status).toBe(204);

    const anonymous = await get('auth.test', '/secret');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Basic realm="flotilla"');

    const basic = (user: string) => `Basic ${Buffer.from(user).toString('base64')}`;
    const wrong = await get('auth.test', '/secret', { Authorization: basic('ops:wrong') });
    expect(wrong.status).toBe(401);
    const right = await get('auth.test', '/secret', { Authorization: basic('ops:hunter2') });
    expect(right).toMatchObject({ status: 200, body: 'a /secret' });
  });

  it('lets only clients from the allowed blocks through, before basic auth', async () => {
    expect(await get('inside.test', '/x')).toMatchObject({ status: 200, body: 'a /x' });
    const basic = `Basic ${Buffer.from('ops:hunter2').toString('base64')}`;
    const outside = await get('outside.test', '/x', { Authorization: basic });
    expect(outside.status).toBe(403);
    expect(outside.body).not.toContain('a /x');
    // Refused before the password is asked for: no realm is announced to an outsider.
    expect(outside.headers['www-authenticate']).toBeUndefined();
  });

  it('serves a route again once the hub reports an instance of it healthy', async () => {
    await healthyAgain();
    expect(await get('down.test', '/up')).toMatchObject({ status: 200, body: 'a /up' });
  });
});
