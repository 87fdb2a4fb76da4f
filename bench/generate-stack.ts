// Synthetic stack files for benchmarks: N services over about N/10 nodes, shaped like a
// real multi-team deployment (databases, caches, APIs with routes, workers, segments,
// backups, allow rules) and deterministic for a given seed, so two runs time the same
// input. Every generated stack is valid: a bench that times a rejection measures nothing.
import { Document, isMap, isSeq, visit } from 'yaml';

export interface GenerateOptions {
  services: number;
  /** Nodes to spread services over; default max(2, round(services / 10)). */
  nodes?: number;
  seed?: number;
  /** Base domain of the routes. */
  domain?: string;
  /** Default wireguard; tailscale makes plan render the Tailscale ACL as well. */
  meshProvider?: 'wireguard' | 'tailscale';
}

export interface GeneratedStack {
  /** The stack as a plain object, as `yaml` would read it back from `text`. */
  value: Record<string, unknown>;
  /** The flotilla.yml text. */
  text: string;
  services: number;
  nodes: number;
  /** Instances plan will place: the sum of the replicas. */
  instances: number;
}

/** mulberry32: small, fast and good enough to vary a benchmark input reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The roles of one team, in order; a team of ten is the unit the stack is built from. */
const ROLES = [
  'db',
  'cache',
  'api',
  'web',
  'worker',
  'queue',
  'search',
  'auth',
  'cron',
  'metrics',
] as const;
type Role = (typeof ROLES)[number];

const TEAM_SIZE = ROLES.length;
// Each service owns PORT_STRIDE ports from PORT_BASE up, so replicas sharing a node
// (base, base+1, …) and second ports never collide: 2,000 services end below 65,535.
const PORT_BASE = 10_000;
const PORT_STRIDE = 8;
const METRICS_OFFSET = 4;
const MAX_SERVICES = Math.floor((65_535 - PORT_BASE) / PORT_STRIDE);

// The shape of `caddy hash-password` output; no one logs in during a bench.
const BCRYPT = '$2a$14$Zkx19XLiW6VYouLHR5NmfOFU0z0lSS3UCVqKyAFBp6NiUWH2T3zGu';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

export function generateStackValue(options: GenerateOptions): {
  value: Record<string, unknown>;
  nodes: number;
} {
  const count = options.services;
  if (!Number.isInteger(count) || count < 1 || count > MAX_SERVICES) {
    throw new RangeError(`services must be an integer in 1..${MAX_SERVICES}, got ${count}`);
  }
  const random = seededRandom(options.seed ?? 1);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const domain = options.domain ?? 'example.com';
  const nodeCount = options.nodes ?? Math.max(2, Math.round(count / 10));
  const teams = Math.ceil(count / TEAM_SIZE);
  const width = String(Math.max(nodeCount, teams)).length;

  // Nodes: every fifth one is storage, the rest compute; the first few are gateways
  // (1 for a handful of nodes, up to 3 for hundreds).
  const gatewayCount = Math.min(3, 1 + Math.floor(nodeCount / 20));
  const nodeNames: string[] = [];
  const storageNodes: string[] = [];
  const computeNodes: string[] = [];
  const nodes: Record<string, unknown> = {};
  for (let index = 0; index < nodeCount; index++) {
    const name = `n${pad(index + 1, width)}`;
    nodeNames.push(name);
    const storage = index % 5 === 4;
    (storage ? storageNodes : computeNodes).push(name);
    const labels = storage ? ['storage'] : index % 3 === 0 ? ['compute', 'edge'] : ['compute'];
    const node: Record<string, unknown> = {
      // 198.18.0.0/15 is the benchmarking range (RFC 2544).
      address: `198.${18 + ((index + 1) >> 16)}.${((index + 1) >> 8) & 255}.${(index + 1) & 255}`,
      labels,
      cost: pick([4.5, 6.9, 10.5, 21]),
    };
    if (index < gatewayCount) node['gateway'] = true;
    nodes[name] = node;
  }
  if (storageNodes.length === 0) storageNodes.push(nodeNames[nodeNames.length - 1]!);

  // Segments are per team (app, data, egress), so reachability grows with the stack
  // instead of with its square: k services sharing one segment are k² grants by design.
  const networks: Record<string, unknown> = {};
  const services: Record<string, unknown> = {};
  const allow: Record<string, unknown>[] = [];
  const jobs: Record<string, unknown> = {};
  const nameOf = (team: number, role: Role) => `t${pad(team, width)}-${role}`;
  const exists = (team: number, role: Role) => team * TEAM_SIZE + ROLES.indexOf(role) < count;

  for (let index = 0; index < count; index++) {
    const team = Math.floor(index / TEAM_SIZE);
    const role = ROLES[index % TEAM_SIZE]!;
    const name = nameOf(team, role);
    const base = PORT_BASE + index * PORT_STRIDE;
    const segment = `t${pad(team, width)}`;
    if (role === 'db') networks[segment] = {};
    if (role === 'db') networks[`${segment}-data`] = { internal: true };
    if (role === 'db') networks[`${segment}-egress`] = { egress: true };
    // A team's services mostly live on its own compute node; data on a storage node.
    const home = computeNodes[team % computeNodes.length] ?? nodeNames[0]!;
    const storageHome = storageNodes[team % storageNodes.length]!;
    const dep = (other: Role) => (exists(team, other) ? [nameOf(team, other)] : []);
    // Every team's API also calls team 0's auth service: fan-in across the whole stack,
    // allowed by a firewall rule rather than a segment everyone shares.
    const sharedAuth = team > 0 && exists(0, 'auth') ? [nameOf(0, 'auth')] : [];
    const service: Record<string, unknown> = {};

    switch (role) {
      case 'db':
        Object.assign(service, {
          node: storageHome,
          run: { command: ['postgres', '-D', '${data}/pg', '-p', '${port}'], user: 'postgres' },
          ports: { main: base },
          health: { postgres: { user: 'postgres' }, interval: '2s' },
          networks: [`${segment}-data`],
          stop: { signal: 'SIGINT', timeout: '30s' },
        });
        if (team % 2 === 0) {
          service['backup'] = {
            kind: 'postgres',
            schedule: `${team % 60} 2 * * *`,
            to: 'offsite',
            keep: { daily: 7, weekly: 4 },
          };
        }
        break;
      case 'cache':
        Object.assign(service, {
          node: storageHome,
          image: 'redis:7-alpine',
          command: ['redis-server', '--port', '${port}'],
          volumes: [`/srv/${name}:/data`],
          ports: { main: base },
          health: { redis: {} },
          networks: [`${segment}-data`],
        });
        break;
      case 'api':
        Object.assign(service, {
          labels: ['compute'],
          replicas: 2 + Math.floor(random() * 2),
          run: { command: ['node', 'server.js'], cwd: `./apps/${name}` },
          ports: { http: base, metrics: base + METRICS_OFFSET },
          env: {
            PORT: '${port}',
            DATABASE_URL: exists(team, 'db')
              ? `postgres://app:\${secret:PG_PASSWORD}@\${${nameOf(team, 'db')}.host}:\${${nameOf(team, 'db')}.port}/app`
              : 'postgres://localhost/app',
            ...(exists(team, 'cache')
              ? { REDIS_URL: `redis://\${${nameOf(team, 'cache')}.address}` }
              : {}),
            ...(sharedAuth.length > 0
              ? { AUTH_URL: `http://\${${sharedAuth[0]}.host}:\${${sharedAuth[0]}.port.http}` }
              : {}),
            LOG_LEVEL: pick(['info', 'debug', 'warn']),
            INSTANCE: 'api-${instance}',
          },
          depends_on: [...dep('db'), ...dep('cache'), ...sharedAuth],
          health: { http: { path: '/health' }, interval: '2s' },
          networks: [segment, `${segment}-data`],
          routes: [
            { host: `${name}.${domain}` },
            { host: `${segment}.${domain}`, path: '/api', strip_prefix: true },
          ],
        });
        break;
      case 'web':
        Object.assign(service, {
          node: home,
          replicas: 2,
          image: `registry.${domain}/${name}:1.${team % 10}.0`,
          ports: { http: base },
          env: {
            PORT: '${port}',
            ...(exists(team, 'api')
              ? { API_URL: `http://\${${nameOf(team, 'api')}.address}` }
              : {}),
          },
          depends_on: dep('api'),
          health: { http: { path: '/' } },
          networks: [segment],
          routes: [{ host: `${segment}.${domain}` }],
        });
        break;
      case 'worker':
        Object.assign(service, {
          node: home,
          replicas: 1 + Math.floor(random() * 3),
          run: {
            command: ['node', 'worker.js', '--concurrency', String(2 + Math.floor(random() * 6))],
            cwd: `./apps/${name}`,
          },
          env: {
            ...(exists(team, 'db')
              ? {
                  DATABASE_URL: `postgres://app:\${secret:PG_PASSWORD}@\${${nameOf(team, 'db')}.address}/app`,
                }
              : {}),
            ...(exists(team, 'queue') ? { QUEUE: `\${${nameOf(team, 'queue')}.address}` } : {}),
          },
          depends_on: [...dep('db'), ...dep('cache'), ...dep('api')],
          networks: [segment, `${segment}-data`, `${segment}-egress`],
          restart: 'on-failure',
        });
        break;
      case 'queue':
        Object.assign(service, {
          node: home,
          image: 'nats:2.10',
          command: ['-js', '-p', '${port}', '-m', '${port.monitor}'],
          ports: { client: base, monitor: base + METRICS_OFFSET },
          health: { tcp: { port: 'client' } },
          networks: [segment],
        });
        break;
      case 'search':
        Object.assign(service, {
          node: storageHome,
          run: {
            command: ['meilisearch', '--http-addr', '0.0.0.0:${port}', '--db-path', '${data}'],
          },
          ports: { http: base },
          env: { MEILI_MASTER_KEY: '${secret:MEILI_KEY}' },
          depends_on: dep('db'),
          health: { http: { path: '/health' }, timeout: '1s' },
          networks: [segment],
          backup: { kind: 'files', paths: ['/srv/search'], schedule: '30 3 * * *', to: 'offsite' },
        });
        break;
      case 'auth':
        Object.assign(service, {
          labels: ['compute', 'edge'],
          replicas: team === 0 ? 3 : 1,
          run: {
            command: ['./bin/auth', '--listen', ':${port}'],
            cwd: `./apps/${name}`,
            env_files: ['.env'],
          },
          ports: { http: base },
          env: {
            ISSUER: `https://${segment}.${domain}/auth`,
            SESSION_SECRET: '${secret:SESSION_SECRET}',
          },
          depends_on: dep('db'),
          health: { http: { path: '/healthz', status: [200, 204] } },
          networks: [segment],
          routes: [{ host: `${segment}.${domain}`, path: '/auth', strip_prefix: true }],
        });
        break;
      case 'cron':
        Object.assign(service, {
          node: home,
          run: {
            command: [
              './bin/cron',
              '--api',
              '${' + (exists(team, 'api') ? nameOf(team, 'api') : name) + '.host}',
            ],
          },
          depends_on: [...dep('api'), ...dep('worker')],
          networks: [segment],
          restart: 'always',
        });
        break;
      case 'metrics':
        Object.assign(service, {
          node: home,
          image: 'prom/prometheus:v2.53.0',
          volumes: [`/srv/${name}:/prometheus`],
          ports: { http: base },
          health: { http: { path: '/-/ready' } },
          networks: [segment, `${segment}-egress`],
          routes: [
            {
              host: `metrics.${segment}.${domain}`,
              basic_auth: { users: [{ username: 'ops', password_hash: BCRYPT }] },
            },
          ],
        });
        // The office may scrape it directly, and the gateway node may too.
        allow.push({
          from: ['198.51.100.0/24', nodeNames[0]!],
          to: `${name}.http`,
          comment: `office → ${segment} metrics`,
        });
        break;
    }
    if (role === 'api' && sharedAuth.length > 0) {
      allow.push({
        from: [name],
        to: `${sharedAuth[0]}.http`,
        comment: `${segment} signs in users`,
      });
    }
    services[name] = service;
    if (role === 'db' && team % 5 === 1) {
      jobs[`${segment}-config`] = {
        kind: 'files',
        node: storageHome,
        paths: ['/etc/flotilla'],
        schedule: '0 4 * * 0',
        to: 'offsite',
      };
    }
  }

  const value: Record<string, unknown> = {
    name: 'bench',
    domain,
    mesh: { provider: options.meshProvider ?? 'wireguard', cidr: '100.96.0.0/12' },
    gateway: { acme_email: `ops@${domain}` },
    nodes,
    networks,
    services,
    firewall: { allow },
    backups: {
      targets: {
        offsite: {
          repository: 's3:https://s3.example.net/backups/bench',
          password: '${secret:RESTIC_PASSWORD}',
        },
      },
      jobs,
    },
    alerts: [{ ntfy: { url: 'https://ntfy.sh/flotilla-bench', priority: 4 } }],
  };
  return { value, nodes: nodeCount };
}

export function generateStack(options: GenerateOptions): GeneratedStack {
  const { value, nodes } = generateStackValue(options);
  const instances = Object.values(
    value['services'] as Record<string, { replicas?: number }>,
  ).reduce((sum, service) => sum + (service.replicas ?? 1), 0);
  const document = new Document(value);
  // Small leaf collections on one line, as people write them: `ports: { http: 3000 }`.
  visit(document, {
    Collection(_key, node) {
      const leaves = node.items.every((item) =>
        isMap(node)
          ? !isMap((item as { value?: unknown }).value) &&
            !isSeq((item as { value?: unknown }).value)
          : !isMap(item) && !isSeq(item),
      );
      if (leaves && node.items.length <= 3) node.flow = true;
    },
  });
  const text = document.toString({ lineWidth: 0 });
  return { value, text, services: options.services, nodes, instances };
}
