// `ports:` and `expose:` → named ports. A Flotilla port is published on the node's mesh
// address or loopback, never on the internet (the gateway's routes are the public way in).
// `8080:80` becomes `ports: { http: 8080 }` with `container_ports: { http: 80 }`; an
// unpublished port keeps the container's number; host-ports.ts then moves any that land
// on a port something else on the node holds. UDP and long ranges cannot be declared.
// An image known to listen somewhere (postgres: 5432) gets that port when the file
// declares none: in Compose every port is open to the container's networks.
import { portName } from '../names.ts';
import type { MapNode, Pos } from './tree.ts';
import { knownPorts } from './known-images.ts';
import type { ServiceState } from './service-state.ts';

interface PortSpec {
  first: number;
  last: number;
  published?: string;
  hostIp?: string;
  protocol: string;
  name?: string;
  appProtocol?: string;
}

/** At most this many ports of a range are declared one by one. */
const MAX_RANGE = 10;

const HTTP_PORTS = new Set([
  80, 81, 1337, 2368, 3000, 3001, 3002, 3080, 4000, 5000, 5001, 5173, 5678, 7860, 8000, 8001, 8008,
  8065, 8080, 8081, 8082, 8088, 8090, 8096, 8123, 8180, 8888, 9000, 9090, 9200,
]);
const HTTPS_PORTS = new Set([443, 8443, 9443]);
const WELL_KNOWN: Record<number, string> = {
  22: 'ssh',
  25: 'smtp',
  53: 'dns',
  110: 'pop3',
  143: 'imap',
  465: 'smtps',
  587: 'submission',
  993: 'imaps',
  1883: 'mqtt',
  3306: 'mysql',
  4222: 'nats',
  5432: 'postgres',
  5672: 'amqp',
  6379: 'redis',
  9092: 'kafka',
  11211: 'memcached',
  27017: 'mongo',
};

const RANGE = /^(\d{1,5})(?:-(\d{1,5}))?$/;

/** `[host_ip:][published:]target[/protocol]`; a string says why the text is not one. */
export function parseShortPort(text: string): PortSpec | string {
  let rest = text.trim();
  let protocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    protocol = rest.slice(slash + 1).toLowerCase();
    rest = rest.slice(0, slash);
  }
  let hostIp: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':')
      return 'an IPv6 host address is written [::1]:published:target';
    hostIp = rest.slice(1, close);
    rest = rest.slice(close + 2);
  }
  const parts = rest.split(':');
  if (hostIp === undefined && parts.length === 3) hostIp = parts.shift();
  if (parts.length > 2) return 'expected [host_ip:][published:]target[/protocol]';
  const target = parts.at(-1)!;
  const published = parts.length === 2 ? parts[0] : undefined;
  const range = RANGE.exec(target);
  if (!range) return `"${target}" is not a container port or range`;
  const first = Number(range[1]);
  const last = Number(range[2] ?? range[1]);
  const spec: PortSpec = { first, last, protocol };
  if (published !== undefined && published !== '') spec.published = published;
  if (hostIp !== undefined && hostIp !== '') spec.hostIp = hostIp;
  return spec;
}

function parseLongPort(state: ServiceState, node: MapNode, path: string): PortSpec | string {
  const field = (key: string) => {
    const value = node.entries.get(key)?.value;
    return value === undefined ? undefined : state.context.text(value, `${path}.${key}`);
  };
  const target = field('target');
  if (target === undefined || !RANGE.test(target))
    return 'the long form needs `target:`, the container port';
  const range = RANGE.exec(target)!;
  const spec: PortSpec = {
    first: Number(range[1]),
    last: Number(range[2] ?? range[1]),
    protocol: (field('protocol') ?? 'tcp').toLowerCase(),
  };
  const published = field('published');
  const hostIp = field('host_ip');
  const name = field('name');
  const appProtocol = field('app_protocol');
  if (published !== undefined && published !== '') spec.published = published;
  if (hostIp !== undefined && hostIp !== '') spec.hostIp = hostIp;
  if (name !== undefined) spec.name = name;
  if (appProtocol !== undefined) spec.appProtocol = appProtocol.toLowerCase();
  if (node.entries.has('mode'))
    state.context.note(
      'untranslated',
      node.entries.get('mode')!.keyPos,
      `${path}.mode`,
      'the publishing mode (host or ingress) is Swarm routing',
      'Flotilla routes public traffic through its gateway',
    );
  return spec;
}

function wantedName(spec: PortSpec, port: number): string {
  const named = spec.name === undefined ? undefined : portName(spec.name);
  if (named !== undefined) return named;
  if (spec.appProtocol === 'http' || spec.appProtocol === 'https') return spec.appProtocol;
  if (HTTPS_PORTS.has(port)) return 'https';
  if (HTTP_PORTS.has(port)) return 'http';
  return WELL_KNOWN[port] ?? `tcp-${port}`;
}

function looksHttp(spec: PortSpec, port: number): boolean {
  if (spec.appProtocol !== undefined) return spec.appProtocol.startsWith('http');
  return HTTP_PORTS.has(port) || HTTPS_PORTS.has(port);
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

function declare(state: ServiceState, spec: PortSpec, at: Pos, path: string, text: string): void {
  const { context } = state;
  if (spec.protocol !== 'tcp') {
    context.note(
      'untranslated',
      at,
      path,
      `${text}: Flotilla ports are TCP, so ${spec.protocol.toUpperCase()} port ${spec.first === spec.last ? spec.first : `range ${spec.first}-${spec.last}`} is not declared`,
      'a service that needs UDP (DNS, WireGuard, game servers) cannot run behind Flotilla ports yet; keep it under Compose',
    );
    return;
  }
  const count = spec.last - spec.first + 1;
  if (count < 1 || count > MAX_RANGE || spec.last > 65535 || spec.first < 1) {
    context.note(
      'untranslated',
      at,
      path,
      `${text}: ${count < 1 || spec.last > 65535 || spec.first < 1 ? 'not a port range' : `a range of ${count} ports`} cannot be declared`,
      `declare the ports the service really listens on by name, e.g. ports: { tcp-${spec.first}: ${spec.first} }`,
    );
    return;
  }
  const published = publishedPorts(state, spec, at, path, text);
  // What cannot be published is not: no note on it, no route suggested for it.
  if (published === undefined) delete spec.published;
  for (let port = spec.first; port <= spec.last; port++) {
    const host = published?.[port - spec.first];
    const existing = state.ports.find((declared) => declared.port === port);
    if (existing && host !== undefined && existing.host !== host)
      context.note(
        'untranslated',
        at,
        path,
        `${text}: container port ${port} is published once, by an earlier entry`,
        `a Flotilla port is published on one node port: other services reach it on ports.${existing.name} of the stack`,
      );
    const declared: Parameters<ServiceState['declarePort']>[0] = {
      port,
      at,
      path,
      http: looksHttp(spec, port),
    };
    if (spec.published !== undefined) declared.published = spec.published;
    if (host !== undefined) declared.host = host;
    state.declarePort(declared, wantedName(spec, port));
  }
  if (count > 1)
    context.note('changed', at, path, `${text}: the range is declared as ${count} named ports`);
  describePublished(state, spec, at, path, text);
}

/**
 * The node port for each container port of `spec`, as Compose would publish them: one
 * published port for one container port (the first of a published range, where Compose
 * takes any free one), or a range as long as the container's. Undefined when nothing is
 * published, or when what is cannot be (a note says so): the container's numbers are used.
 */
function publishedPorts(
  state: ServiceState,
  spec: PortSpec,
  at: Pos,
  path: string,
  text: string,
): number[] | undefined {
  if (spec.published === undefined) return undefined;
  const range = RANGE.exec(spec.published);
  const first = Number(range?.[1]);
  const last = Number(range?.[2] ?? range?.[1]);
  const count = spec.last - spec.first + 1;
  const fits =
    range !== null &&
    first >= 1 &&
    last <= 65535 &&
    first <= last &&
    (count === 1 || last - first + 1 === count);
  if (!fits) {
    state.context.malformed(
      at,
      path,
      `${text}: "${spec.published}" is not a host port, or a range as long as the container's`,
    );
    return undefined;
  }
  return Array.from({ length: count }, (_, offset) => first + offset);
}

/** What Compose's publishing meant and what stands in for it in Flotilla. */
function describePublished(
  state: ServiceState,
  spec: PortSpec,
  at: Pos,
  path: string,
  text: string,
) {
  if (spec.published === undefined) return;
  const loopback = spec.hostIp !== undefined && LOOPBACK.test(spec.hostIp);
  const where = loopback
    ? `${spec.hostIp}:${spec.published}`
    : `port ${spec.published} of every interface`;
  state.context.note(
    'changed',
    at,
    path,
    `${text}: Compose published it on ${where}${loopback ? '' : ' (the internet)'}; Flotilla publishes it on the node's mesh address or loopback only`,
    loopback
      ? undefined
      : 'public traffic comes in through a route on the gateway: see the suggested routes',
  );
}

export function mapPorts(state: ServiceState): void {
  const { context } = state;
  for (const key of ['ports', 'expose']) {
    const entry = state.entry(key);
    if (!entry) continue;
    const path = state.path(key);
    if (entry.value.kind !== 'seq') {
      context.malformed(entry.value.pos, path, `expected a list of ports`);
      continue;
    }
    entry.value.items.forEach((item, index) => {
      const itemPath = `${path}[${index}]`;
      let spec: PortSpec | string;
      let text: string;
      if (item.kind === 'map') {
        spec = parseLongPort(state, item, itemPath);
        text = 'this port';
      } else {
        text = context.expectText(item, itemPath, 'a port') ?? '';
        if (text === '') return;
        spec = parseShortPort(text);
      }
      if (typeof spec === 'string') {
        context.note(
          'untranslated',
          item.pos,
          itemPath,
          `${text}: ${spec}`,
          'write e.g. "8080:80" or "3000"',
        );
        return;
      }
      // `expose` never publishes, whatever it says.
      if (key === 'expose') delete spec.published;
      declare(state, spec, item.pos, itemPath, text);
    });
  }
  inferPorts(state);
}

function inferPorts(state: ServiceState): void {
  if (state.ports.length > 0 || state.image === undefined) return;
  const known = knownPorts(state.image);
  if (!known) return;
  const at = state.entry('image')!.value.pos;
  const path = state.path('image');
  for (const [name, port] of Object.entries(known.ports))
    state.declarePort({ port, at, path, http: name === 'http' }, name);
  const list = Object.values(known.ports).join(', ');
  state.context.note(
    'changed',
    at,
    path,
    `declared port ${list} (${known.what} listens there): in Compose every port of a container is open to its networks, in Flotilla only the declared ones`,
  );
}
