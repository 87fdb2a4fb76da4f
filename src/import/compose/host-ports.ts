// The node port each imported port is published on. An imported stack declares no nodes:
// it runs on one node, which is the gateway (80 and 443), the hub (its bus and join ports)
// and the machine's SSH server, and Flotilla publishes every declared port of every
// instance there (replicas of a service on consecutive ports). In Compose each container
// has its own ports, so two services may both listen on 9000 and a web server on 80. A port
// keeps the number Compose published, else the container's; when something else holds it,
// it moves to a free one (the same one on every import) and the container keeps listening
// where it did (`container_ports`). The gateway routes to the node port, so a suggested
// route still reaches the service.
import { BUS_PORT, hubNode, JOIN_PORT } from '../../plan/firewall-access.ts';
import { stackSchema } from '../../spec/schema.ts';
import type { DeclaredPort, ServiceState } from './service-state.ts';

const HIGHEST_PORT = 65535;

/** Who holds which port on the node before any service, by the defaults an imported stack gets. */
function heldByTheNode(): Map<number, string> {
  const stack = stackSchema.parse({ name: 'imported' });
  const held = new Map<number, string>();
  for (const [name, node] of Object.entries(stack.nodes)) {
    held.set(node.ssh.port, 'the node’s SSH server');
    if (node.gateway) {
      held.set(stack.gateway.http_port, 'the gateway (HTTP)');
      held.set(stack.gateway.https_port, 'the gateway (HTTPS)');
    }
    if (name === hubNode(stack)) {
      held.set(BUS_PORT, 'the hub’s bus (NATS)');
      held.set(JOIN_PORT, 'the hub’s join endpoint');
    }
  }
  return held;
}

/**
 * The node port for a port whose own is taken: the container's port when it is free (other
 * services reach it where they did in Compose), else the first free one from a privileged
 * port's usual stand-in at 8000 + it (80 → 8080, 443 → 8443, 22 → 8022), or from just
 * above any other.
 */
function freePortFor(port: DeclaredPort, free: (first: number) => boolean): number | undefined {
  if (free(port.port)) return port.port;
  for (let candidate = port.host < 1024 ? 8000 + port.host : port.host + 1; ; candidate++) {
    if (candidate > HIGHEST_PORT) return undefined;
    if (free(candidate)) return candidate;
  }
}

function span(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, offset) => first + offset);
}

/** Sets each declared port's node port, writes `ports` and `container_ports`, and notes each difference. */
export function assignHostPorts(states: ServiceState[]): void {
  const held = heldByTheNode();
  const free = (first: number, count: number) =>
    first + count - 1 <= HIGHEST_PORT && span(first, count).every((port) => !held.has(port));
  const hold = (state: ServiceState, port: DeclaredPort, first: number) =>
    span(first, state.replicas).forEach((number, offset) =>
      held.set(
        number,
        offset === 0
          ? `\`${state.draft.name}\` (${port.name})`
          : `\`${state.draft.name}\` (${port.name}, replica ${offset + 1})`,
      ),
    );
  // Every port that can keep its number first, so a port that moves never takes another's.
  const moving: { state: ServiceState; port: DeclaredPort; holder: string }[] = [];
  for (const state of states)
    for (const port of state.ports) {
      if (free(port.host, state.replicas)) {
        hold(state, port, port.host);
        if (port.host !== port.port)
          state.context.note(
            'changed',
            port.at,
            port.path,
            `port ${port.name}: published on ${port.host}, as in Compose; the container listens on ${port.port} (container_ports)`,
            reachedOn(state, port),
          );
        continue;
      }
      const taken = span(port.host, state.replicas).find((number) => held.has(number))!;
      moving.push({ state, port, holder: `${taken} on the node is taken by ${held.get(taken)!}` });
    }
  for (const { state, port, holder } of moving) {
    const candidate = freePortFor(port, (first) => free(first, state.replicas));
    // Nothing free is left: the stack loader reports the clash where the port came from.
    if (candidate === undefined) continue;
    port.host = candidate;
    hold(state, port, candidate);
    const replicas =
      state.replicas > 1 ? ` (replicas: ${candidate}-${candidate + state.replicas - 1})` : '';
    const own = candidate === port.port;
    state.context.note(
      'changed',
      port.at,
      port.path,
      own
        ? `port ${port.name}: ${holder}, so it is published on ${candidate}${replicas}, the container's own port`
        : `port ${port.name}: ${holder}, so it is published on ${candidate}${replicas}; the container still listens on ${port.port} (container_ports)`,
      own ? undefined : reachedOn(state, port),
    );
  }
  for (const state of states) writePorts(state);
}

/**
 * Who reaches the port where: containers on one node talk over the stack's Docker network
 * by service name and container port, as in Compose; the rest through the node port.
 */
function reachedOn(state: ServiceState, port: DeclaredPort): string {
  const name = state.draft.name;
  return `containers on its node still reach it at ${name}:${port.port}, as in Compose; native services and other nodes reach it on ${port.host}, and \${${name}.host}:\${${name}.port.${port.name}} is the right address for each`;
}

function writePorts(state: ServiceState): void {
  for (const port of state.ports) {
    state.draft.setIn('ports', port.name, port.host, port.at);
    // A service without an image is refused for that already; container_ports would add noise.
    if (port.host !== port.port && state.image !== undefined)
      state.draft.setIn('container_ports', port.name, port.port, port.at);
  }
}
