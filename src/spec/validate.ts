// Checks that need the whole stack: names that must exist, cycles, ports claimed twice on
// one node, routes claimed twice, interpolations, no secret on a command line. Each finding
// carries the document path of the value to fix; the loader pins it to a line and column.
import { allocateMeshAddresses, MeshExhaustedError } from '../plan/mesh-addresses.ts';
import { BUS_PORT, hubNode, JOIN_PORT } from '../plan/firewall-access.ts';
import { containerPoolFindings } from '../plan/container-pool.ts';
import { findCycle } from '../plan/order.ts';
import { eligibleNodes, placeInstances, defaultPortName } from '../plan/placement.ts';
import {
  classifySource,
  computeReachability,
  DEFAULT_SEGMENT,
  mayReach,
  parseAllowTarget,
  serviceSegments,
  type Reachability,
} from '../plan/reachability.ts';
import { normalizePath } from '../plan/routes.ts';
import type { Finding, PathSegment } from './diagnostic.ts';
import { cidrContains, explainBadCidr, parseCidr, parseIPv4 } from './formats.ts';
import {
  InterpolationError,
  parseTemplate,
  references,
  type Part,
  type Reference,
} from './interpolation.ts';
import type { Service, Stack } from './schema.ts';
import { isSecretName, SECRET_NAME_RULE } from './secret-name.ts';
import { secretOnCommandLine, type CommandLine } from './secret-on-argv.ts';
import { credentialStrings } from './credential-strings.ts';
import { checkMonitoring } from './validate-monitoring.ts';
import { didYouMean } from './suggest.ts';

export function validateStack(
  stack: Stack,
  options: { knownSecrets?: ReadonlySet<string> } = {},
): Finding[] {
  const findings: Finding[] = [];
  const report = (path: PathSegment[], message: string, hint?: string) => {
    const finding: Finding = { path, message };
    if (hint !== undefined) finding.hint = hint;
    findings.push(finding);
  };
  const unset = options.knownSecrets && unsetSecretReporter(findings, options.knownSecrets);
  checkNodes(stack, report);
  checkServices(stack, report, unset);
  if (unset) checkOtherSecrets(stack, unset);
  checkCycles(stack, report);
  checkRoutes(stack, report);
  checkDashboard(stack, report);
  checkFirewall(stack, report);
  checkBackups(stack, report);
  checkMonitoring(stack, report);
  if (findings.length === 0) {
    checkPorts(stack, report);
    // Pools are checked against the mesh, node addresses and allowed blocks: valid ones only.
    findings.push(...containerPoolFindings(stack));
  }
  return findings;
}

type Report = (path: PathSegment[], message: string, hint?: string) => void;

/** Reports `name` at `path` when this machine's store lacks it; `user` says what needs it. */
type UnsetSecretCheck = (path: PathSegment[], name: string, user: string) => void;

function unsetSecretReporter(
  findings: Finding[],
  knownSecrets: ReadonlySet<string>,
): UnsetSecretCheck {
  return (path, name, user) => {
    if (knownSecrets.has(name)) return;
    findings.push({
      path,
      message: `secret ${name} is not set for ${user}`,
      hint: `set it first: flotilla secrets set ${name}`,
      unsetSecret: name,
    });
  };
}

/** Secrets outside services: backup targets, registries, alert channels, monitoring. */
function checkOtherSecrets(stack: Stack, unset: UnsetSecretCheck): void {
  for (const { path, text, user } of credentialStrings(stack)) {
    let found: Reference[];
    try {
      found = references(text);
    } catch {
      continue; // A broken template is the schema's or the runtime's to report.
    }
    for (const ref of found) if (ref.kind === 'secret') unset(path, ref.name, user);
  }
}

function unknownName(
  kind: string,
  name: string,
  known: Iterable<string>,
): [string, string | undefined] {
  const names = [...known];
  return [
    `unknown ${kind} \`${name}\``,
    didYouMean(name, names) ??
      (names.length > 0 ? `known ${kind}s: ${names.join(', ')}` : `no ${kind}s are declared`),
  ];
}

function checkNodes(stack: Stack, report: Report) {
  const block = parseCidr(stack.mesh.cidr);
  const nodeNames = Object.keys(stack.nodes);
  if (nodeNames.length === 0) report(['nodes'], 'a stack needs at least one node');
  const pinned = new Map<string, string>();
  for (const [name, node] of Object.entries(stack.nodes)) {
    if (node.mesh_address !== undefined) {
      const ip = parseIPv4(node.mesh_address);
      if (ip === undefined || (block && !cidrContains(block, ip))) {
        report(
          ['nodes', name, 'mesh_address'],
          `mesh_address ${node.mesh_address} is not inside mesh.cidr ${stack.mesh.cidr}`,
        );
      } else if (pinned.has(node.mesh_address)) {
        report(
          ['nodes', name, 'mesh_address'],
          `mesh_address ${node.mesh_address} is already node \`${pinned.get(node.mesh_address)}\`'s`,
        );
      } else {
        pinned.set(node.mesh_address, name);
      }
    }
  }
  try {
    allocateMeshAddresses(stack);
  } catch (error) {
    if (!(error instanceof MeshExhaustedError)) throw error;
    report(['mesh', 'cidr'], error.message, 'use a larger block, e.g. a /16');
  }
  const hasRoutes = Object.values(stack.services).some((service) => service.routes.length > 0);
  if (hasRoutes && !Object.values(stack.nodes).some((node) => node.gateway)) {
    report(
      ['nodes'],
      'services have routes but no node is a gateway',
      'add `gateway: true` to the node that should run Caddy',
    );
  }
}

function checkServices(stack: Stack, report: Report, unset: UnsetSecretCheck | undefined) {
  const reachability = computeReachability(stack);
  const services = Object.keys(stack.services);
  const segments = new Set([DEFAULT_SEGMENT, ...Object.keys(stack.networks)]);
  for (const [name, service] of Object.entries(stack.services)) {
    const at = (...rest: PathSegment[]) => ['services', name, ...rest];
    if (service.node !== undefined && !Object.hasOwn(stack.nodes, service.node)) {
      report(at('node'), ...unknownName('node', service.node, Object.keys(stack.nodes)));
    } else if (service.labels !== undefined && eligibleNodes(stack, service).length === 0) {
      report(
        at('labels'),
        `no node carries all of the labels ${service.labels.join(', ')}`,
        "add the labels to a node or change the service's labels",
      );
    }
    service.depends_on.forEach((dependency, index) => {
      if (dependency === name)
        report(at('depends_on', index), `service \`${name}\` depends on itself`);
      else if (!services.includes(dependency))
        report(at('depends_on', index), ...unknownName('service', dependency, services));
    });
    service.networks?.forEach((segment, index) => {
      if (!segments.has(segment))
        report(at('networks', index), ...unknownName('network', segment, segments));
    });
    service.secret_files.forEach((secret, index) => {
      if (!isSecretName(secret)) {
        report(
          at('secret_files', index),
          `bad secret name "${secret}"`,
          `a secret name is ${SECRET_NAME_RULE}`,
        );
      } else unset?.(at('secret_files', index), secret, `service \`${name}\``);
    });
    if (service.deploy?.webhook && !stack.gateway.webhooks)
      report(
        at('deploy', 'webhook'),
        'a webhook needs the public host forges post to',
        'add `gateway: { webhooks: { host: hooks.example.com } }`: forges then post to https://hooks.example.com/hooks/' +
          name,
      );
    checkHealth(service, at, report);
    checkTemplates(stack, name, service, report, unset, reachability);
  }
}

/** Why `port` (or the default port, when undefined) cannot be used on `service`, if it can't. */
function namedPortProblem(
  service: Service,
  port: string | undefined,
  what: string,
): [string, string | undefined] | undefined {
  if (port === undefined) {
    return defaultPortName(service) === undefined
      ? [
          `${what} needs a port, but the service declares no \`ports\``,
          'add e.g. `ports: { http: 3000 }`',
        ]
      : undefined;
  }
  return Object.hasOwn(service.ports, port)
    ? undefined
    : unknownName('port', port, Object.keys(service.ports));
}

function checkHealth(
  service: Service,
  at: (...rest: PathSegment[]) => PathSegment[],
  report: Report,
) {
  const health = service.health;
  if (!health) return;
  for (const kind of ['http', 'tcp', 'postgres', 'redis'] as const) {
    const check = health[kind];
    const problem = check && namedPortProblem(service, check.port, `the ${kind} health check`);
    if (problem)
      report(at('health', kind, ...(check?.port === undefined ? [] : ['port'])), ...problem);
  }
}

interface TemplatedString {
  path: PathSegment[];
  text: string;
  /** Set for an argument of a command: no secret may be rendered into it. */
  commandLine?: CommandLine;
}

/** Every string that may hold `${…}` references, with the references allowed there. */
function templatedStrings(service: Service, name: string): TemplatedString[] {
  const at = (...rest: PathSegment[]) => ['services', name, ...rest];
  const strings: TemplatedString[] = [];
  for (const [key, value] of Object.entries(service.env)) {
    if (typeof value === 'string') strings.push({ path: at('env', key), text: value });
  }
  const command = (argv: string[] | undefined, commandLine: CommandLine, ...path: PathSegment[]) =>
    argv?.forEach((text, index) => strings.push({ path: at(...path, index), text, commandLine }));
  command(service.run?.command, 'process', 'run', 'command');
  command(service.command, 'container', 'command');
  command(service.entrypoint, 'container', 'entrypoint');
  command(service.health?.exec?.command, 'health', 'health', 'exec', 'command');
  command(service.backup?.command, 'backup', 'backup', 'command');
  if (service.deploy?.webhook)
    strings.push({ path: at('deploy', 'webhook', 'secret'), text: service.deploy.webhook.secret });
  return strings;
}

function checkTemplates(
  stack: Stack,
  name: string,
  service: Service,
  reportAt: Report,
  unset: UnsetSecretCheck | undefined,
  reachability: Reachability,
) {
  for (const { path, text, commandLine } of templatedStrings(service, name)) {
    let parts: Part[];
    try {
      parts = parseTemplate(text);
    } catch (error) {
      if (!(error instanceof InterpolationError)) throw error;
      reportAt(path, error.message, error.hint);
      continue;
    }
    for (const part of parts) {
      if (!('ref' in part)) continue;
      const { ref } = part;
      const report = (message: string, hint?: string) =>
        reportAt(path, `in \`\${${part.source}}\`: ${message}`, hint);
      if (ref.kind === 'secret') {
        if (commandLine) {
          report(...secretOnCommandLine(commandLine, ref.name));
        } else unset?.(path, ref.name, `service \`${name}\``);
      } else if (ref.kind === 'service') {
        const target = Object.hasOwn(stack.services, ref.service)
          ? stack.services[ref.service]
          : undefined;
        if (!target) {
          report(...unknownName('service', ref.service, Object.keys(stack.services)));
        } else {
          const problem =
            ref.field === 'host'
              ? undefined
              : namedPortProblem(target, ref.port, `\`${ref.service}\``);
          if (problem) report(...problem);
          else if (ref.service !== name && !mayReach(reachability, name, ref.service))
            // The address resolves, but the nodes' firewalls would drop the connection.
            report(
              `\`${name}\` refers to \`${ref.service}\` but may not connect to it`,
              `put both in one of the same \`networks\`, or add to firewall.allow: { from: [${name}], to: ${ref.service} }`,
            );
        }
      } else if (ref.kind === 'self' && ref.field === 'port') {
        const problem = namedPortProblem(service, ref.port, 'this service');
        if (problem) report(...problem);
      }
    }
  }
}

function checkCycles(stack: Stack, report: Report) {
  const graph = Object.fromEntries(
    Object.entries(stack.services).map(([name, service]) => [name, service.depends_on]),
  );
  const cycle = findCycle(graph);
  if (cycle) {
    const [first, second] = cycle;
    const index = stack.services[first!]?.depends_on.indexOf(second!) ?? 0;
    report(
      ['services', first!, 'depends_on', index],
      `dependency cycle: ${cycle.join(' → ')}`,
      'remove one of these depends_on entries',
    );
  }
}

function checkRoutes(stack: Stack, report: Report) {
  const claimed = new Map<string, string>();
  for (const [name, service] of Object.entries(stack.services)) {
    service.routes.forEach((route, index) => {
      const path = ['services', name, 'routes', index];
      const problem = namedPortProblem(
        service,
        route.port,
        `route ${route.host}${route.path ?? ''}`,
      );
      if (problem) report(route.port === undefined ? path : [...path, 'port'], ...problem);
      if (route.strip_prefix && route.path === undefined) {
        report([...path, 'strip_prefix'], 'strip_prefix needs a `path` prefix to strip');
      }
      const key = `${route.host}${normalizePath(route.path) ?? ''}`;
      const owner = claimed.get(key);
      if (owner !== undefined) {
        report(
          [...path, route.path === undefined ? 'host' : 'path'],
          `route ${key} is already claimed by service \`${owner}\``,
          'give one of them a different host or path prefix',
        );
      } else {
        claimed.set(key, name);
      }
    });
  }
}

/** The dashboard is served by the hub node's gateway and owns its host. */
function checkDashboard(stack: Stack, report: Report) {
  const dashboard = stack.dashboard;
  if (!dashboard) return;
  const hub = hubNode(stack);
  if (hub === undefined || !stack.nodes[hub]?.gateway)
    report(
      ['dashboard'],
      "the dashboard is served by the hub node's gateway, and the hub node is not a gateway",
      hub === undefined
        ? 'add `gateway: true` to the node that should run Caddy'
        : `add \`gateway: true\` to node \`${hub}\``,
    );
  for (const [name, service] of Object.entries(stack.services))
    service.routes.forEach((route, index) => {
      if (route.host === dashboard.host)
        report(
          ['services', name, 'routes', index, 'host'],
          `host ${route.host} is the dashboard's (dashboard.host)`,
          'give the dashboard or this route its own host',
        );
    });
}

function checkFirewall(stack: Stack, report: Report) {
  stack.firewall.allow.forEach((rule, index) => {
    const path = ['firewall', 'allow', index];
    const target = parseAllowTarget(rule.to);
    const service = Object.hasOwn(stack.services, target.service)
      ? stack.services[target.service]
      : undefined;
    if (!service) {
      report(
        [...path, 'to'],
        ...unknownName('service', target.service, Object.keys(stack.services)),
      );
      return;
    }
    if (target.port !== undefined && !Object.hasOwn(service.ports, target.port)) {
      report([...path, 'to'], ...unknownName('port', target.port, Object.keys(service.ports)));
    }
    const internalOnly = serviceSegments(stack, target.service).every(
      (segment) => stack.networks[segment]?.internal === true,
    );
    rule.from.forEach((entry, fromIndex) => {
      const source = classifySource(stack, entry);
      const at = [...path, 'from', fromIndex];
      if (Object.hasOwn(stack.nodes, entry) && Object.hasOwn(stack.services, entry)) {
        report(
          at,
          `\`${entry}\` is both a node and a service`,
          `write \`node:${entry}\` or \`service:${entry}\``,
        );
      } else if (!source && /^[\d./]+$/.test(entry)) {
        report(at, `bad CIDR "${entry}": ${explainBadCidr(entry)}`);
      } else if (!source) {
        report(
          at,
          `unknown source \`${entry}\`: not a CIDR, node or service`,
          didYouMean(entry, [...Object.keys(stack.nodes), ...Object.keys(stack.services)]) ??
            'write a CIDR such as 198.51.100.0/24, a node name or a service name',
        );
      } else if (source.kind === 'node' && !Object.hasOwn(stack.nodes, source.node)) {
        report(at, ...unknownName('node', source.node, Object.keys(stack.nodes)));
      } else if (source.kind === 'service' && !Object.hasOwn(stack.services, source.service)) {
        report(at, ...unknownName('service', source.service, Object.keys(stack.services)));
      } else if (source.kind === 'cidr' && internalOnly) {
        report(
          at,
          `\`${target.service}\` is only in internal networks, so ${entry} cannot be allowed in`,
          'add the service to a non-internal network, or drop this rule',
        );
      }
    });
  });
}

function checkBackups(stack: Stack, report: Report) {
  const targets = Object.keys(stack.backups.targets);
  for (const [name, service] of Object.entries(stack.services)) {
    if (service.backup && !targets.includes(service.backup.to)) {
      report(
        ['services', name, 'backup', 'to'],
        ...unknownName('backup target', service.backup.to, targets),
      );
    }
  }
  for (const [name, job] of Object.entries(stack.backups.jobs)) {
    const at = (...rest: PathSegment[]) => ['backups', 'jobs', name, ...rest];
    if (!targets.includes(job.to))
      report(at('to'), ...unknownName('backup target', job.to, targets));
    if (job.service !== undefined && !Object.hasOwn(stack.services, job.service))
      report(at('service'), ...unknownName('service', job.service, Object.keys(stack.services)));
    if (job.node !== undefined && !Object.hasOwn(stack.nodes, job.node))
      report(at('node'), ...unknownName('node', job.node, Object.keys(stack.nodes)));
    // Its other references resolve when the job runs, against its service's instance.
    job.command?.forEach((text, index) => {
      let parts: Part[];
      try {
        parts = parseTemplate(text);
      } catch (error) {
        if (!(error instanceof InterpolationError)) throw error;
        report(at('command', index), error.message, error.hint);
        return;
      }
      for (const part of parts) {
        if (!('ref' in part) || part.ref.kind !== 'secret') continue;
        const [message, hint] = secretOnCommandLine('backup', part.ref.name);
        report(at('command', index), `in \`\${${part.source}}\`: ${message}`, hint);
      }
    });
  }
  const secretOnly = (path: PathSegment[], text: string, what: string) => {
    try {
      if (parseTemplate(text).some((part) => 'ref' in part && part.ref.kind !== 'secret'))
        report(path, `only \`\${secret:NAME}\` references are allowed in ${what}`);
    } catch (error) {
      if (!(error instanceof InterpolationError)) throw error;
      report(path, error.message, error.hint);
    }
  };
  for (const { path, text, user } of credentialStrings(stack)) secretOnly(path, text, user);
}

/** Who holds a port on a node, described for a person ("`api` (http, replica 2: 3000+1)"). */
interface PortClaim {
  service: string;
  description: string;
}

function describeClaim(
  stack: Stack,
  service: string,
  portName: string,
  index: number,
  port: number,
): string {
  const base = stack.services[service]?.ports[portName] ?? port;
  return port === base
    ? `\`${service}\` (${portName})`
    : `\`${service}\` (${portName}, replica ${index}: ${base}+${port - base})`;
}

/** Two instances on one node may not listen on one port, nor take the gateway's ports. */
function checkPorts(stack: Stack, report: Report) {
  const claims = new Map<string, PortClaim>();
  const reported = new Set<string>();
  for (const [node, spec] of Object.entries(stack.nodes)) {
    if (!spec.gateway) continue;
    for (const [portName, port] of [
      ['http_port', stack.gateway.http_port],
      ['https_port', stack.gateway.https_port],
    ] as const) {
      claims.set(`${node}:${port}`, {
        service: 'the gateway',
        description: `the gateway (${portName})`,
      });
    }
  }
  // Flotilla's own listeners: sshd on every node, and on the hub of a multi-node stack its
  // bus and join endpoint. A service there would fail to bind only once it runs.
  for (const [node, spec] of Object.entries(stack.nodes)) {
    claims.set(`${node}:${spec.ssh.port}`, {
      service: 'the node',
      description: `the node's SSH server (ssh.port)`,
    });
  }
  const hub = hubNode(stack);
  if (hub !== undefined) {
    const multiNode = Object.keys(stack.nodes).length > 1;
    const listeners: [string, number | undefined][] = [
      ['bus (nats)', multiNode ? BUS_PORT : undefined],
      ['join endpoint', multiNode ? JOIN_PORT : undefined],
      ['webhook listener (gateway.webhooks.port)', stack.gateway.webhooks?.port],
      ['push listener (monitoring.push.port)', stack.monitoring.push?.port],
      ['metrics endpoint (monitoring.metrics.port)', stack.monitoring.metrics?.port],
      ['dashboard listener (dashboard.port)', stack.dashboard?.port],
    ];
    for (const [what, port] of listeners)
      if (port !== undefined)
        claims.set(`${hub}:${port}`, { service: 'the hub', description: `the hub's ${what}` });
  }
  for (const instance of placeInstances(stack)) {
    for (const [portName, port] of Object.entries(instance.ports)) {
      const key = `${instance.node}:${port}`;
      const owner = claims.get(key);
      const description = describeClaim(stack, instance.service, portName, instance.index, port);
      if (!owner) {
        claims.set(key, { service: instance.service, description });
        continue;
      }
      // Replicas on one node take consecutive ports, so a service can clash with itself
      // (http 3000 and metrics 3001 with two replicas both want 3001).
      const pair = `${owner.description}/${description}`;
      if (reported.has(pair)) continue;
      reported.add(pair);
      report(
        ['services', instance.service, 'ports', portName],
        `port ${port} on node \`${instance.node}\` is claimed by both ${owner.description} and ${description}`,
        owner.service === instance.service
          ? `replicas on one node take consecutive ports: space ${instance.service}'s ports at least ${stack.services[instance.service]!.replicas} apart`
          : Object.hasOwn(stack.services, owner.service)
            ? 'pick another port for one of them, or place them on different nodes'
            : `pick another port for \`${instance.service}\``,
      );
    }
  }
}
