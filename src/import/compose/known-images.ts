// What the import knows about common images: the port a database or cache listens on
// (in Compose any port of a container is open to its network, in Flotilla only declared
// ones, so `postgres` without `ports:` would be unreachable), and which images are
// reverse proxies that Flotilla's gateway replaces.

/** `docker.io/library/postgres:16-alpine@sha256:…` → `postgres`; `bitnami/redis:7` → `bitnami/redis`. */
export function imageRepository(image: string): string {
  let name = image.split('@')[0]!;
  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  if (colon >= 0) name = name.slice(0, colon);
  const parts = name.split('/');
  // A first part with a dot or a port is a registry host: not part of the repository.
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)) parts.shift();
  if (parts[0] === 'library') parts.shift();
  return parts.join('/').toLowerCase();
}

function baseName(repository: string): string {
  return repository.split('/').at(-1) ?? repository;
}

interface KnownPorts {
  ports: Record<string, number>;
  /** What the image is, said in the note. */
  what: string;
}

const BY_BASE_NAME: Record<string, KnownPorts> = {
  postgres: { ports: { postgres: 5432 }, what: 'PostgreSQL' },
  postgresql: { ports: { postgres: 5432 }, what: 'PostgreSQL' },
  postgis: { ports: { postgres: 5432 }, what: 'PostgreSQL' },
  timescaledb: { ports: { postgres: 5432 }, what: 'PostgreSQL' },
  pgvector: { ports: { postgres: 5432 }, what: 'PostgreSQL' },
  'pgvecto-rs': { ports: { postgres: 5432 }, what: 'PostgreSQL' },
  mysql: { ports: { mysql: 3306 }, what: 'MySQL' },
  mariadb: { ports: { mysql: 3306 }, what: 'MariaDB' },
  redis: { ports: { redis: 6379 }, what: 'Redis' },
  valkey: { ports: { redis: 6379 }, what: 'Valkey' },
  keydb: { ports: { redis: 6379 }, what: 'KeyDB' },
  dragonfly: { ports: { redis: 6379 }, what: 'Dragonfly' },
  mongo: { ports: { mongo: 27017 }, what: 'MongoDB' },
  mongodb: { ports: { mongo: 27017 }, what: 'MongoDB' },
  memcached: { ports: { memcached: 11211 }, what: 'memcached' },
  rabbitmq: { ports: { amqp: 5672 }, what: 'RabbitMQ' },
  elasticsearch: { ports: { http: 9200 }, what: 'Elasticsearch' },
  opensearch: { ports: { http: 9200 }, what: 'OpenSearch' },
  meilisearch: { ports: { http: 7700 }, what: 'Meilisearch' },
  qdrant: { ports: { http: 6333 }, what: 'Qdrant' },
  nats: { ports: { nats: 4222 }, what: 'NATS' },
  minio: { ports: { http: 9000 }, what: 'MinIO' },
  influxdb: { ports: { http: 8086 }, what: 'InfluxDB' },
  'clickhouse-server': { ports: { http: 8123, native: 9000 }, what: 'ClickHouse' },
};

export function knownPorts(image: string): KnownPorts | undefined {
  const base = baseName(imageRepository(image));
  return Object.hasOwn(BY_BASE_NAME, base) ? BY_BASE_NAME[base] : undefined;
}

/** Images whose job (TLS, routing to containers, certificates) the Flotilla gateway does. */
const REVERSE_PROXIES = new Set([
  'traefik',
  'caddy',
  'lucaslorentz/caddy-docker-proxy',
  'jwilder/nginx-proxy',
  'nginxproxy/nginx-proxy',
  'nginx-proxy',
  'nginxproxy/acme-companion',
  'jrcs/letsencrypt-nginx-proxy-companion',
  'jc21/nginx-proxy-manager',
  'certbot/certbot',
]);

export function isReverseProxy(image: string): boolean {
  return REVERSE_PROXIES.has(imageRepository(image));
}
