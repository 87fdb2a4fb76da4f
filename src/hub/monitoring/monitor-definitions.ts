// Every monitor of a stack: the ones Flotilla derives from what it runs (each route through
// each gateway, each planned instance, each node's reachability and disk, each mesh pair,
// each backup job) and the ones the stack file declares. Pure: the same stack, the same
// monitors, so an apply keeps each monitor's history under a name that does not move.
import { placeInstances } from '../../plan/placement.ts';
import { gatewayNodes, hubNode } from '../../plan/firewall-access.ts';
import { jobEntries } from '../../backup/job.ts';
import { monitorCheckRequest, type CheckRequest } from '../../monitoring/check-request.ts';
import { durationMs } from '../../spec/formats.ts';
import type { MonitorSpec, Stack } from '../../spec/schema.ts';

/** Why the checks of a monitor run where they run, and what they read. */
export type MonitorTarget =
  /** HTTPS through the local gateway, with the route's host as SNI and Host. */
  | { kind: 'route'; host: string; path: string; service: string; gateway: string }
  /** A planned instance's health as its agent reports it (any release slot of it). */
  | { kind: 'instance'; service: string; instance: string; node: string }
  | { kind: 'node'; node: string }
  | { kind: 'disk'; node: string }
  /** `from` reaches `to` over the mesh (ICMP, measured by `from`'s agent). */
  | { kind: 'mesh'; from: string; to: string }
  /** `schedule`: when its runs are due (the job's cron in its time zone). */
  | { kind: 'backup'; job: string; schedule: { cron: string; timezone: string } }
  /** `request`: what the check sends, built once (validate refused what it would refuse). */
  | { kind: 'http'; spec: NonNullable<MonitorSpec['http']>; request: CheckRequest }
  | { kind: 'tcp'; spec: NonNullable<MonitorSpec['tcp']>; request: CheckRequest }
  | { kind: 'heartbeat'; periodMs: number; graceMs: number; token?: string };

export type MonitorKind = MonitorTarget['kind'];

export interface MonitorDefinition {
  /** `route:api.example.com/`, `instance:api-1`, `node:db`, `mesh:web/db`, or a declared name. */
  name: string;
  target: MonitorTarget;
  /** The node whose agent runs an active check; undefined: the hub runs it (or reads state). */
  from?: string;
  intervalMs: number;
  timeoutMs: number;
  /** Failed checks in a row before down. */
  retries: number;
  /** Who and what it is about, for alerts. */
  node?: string;
  service?: string;
  route?: string;
}

export function monitorDefinitions(stack: Stack): MonitorDefinition[] {
  const { monitoring } = stack;
  const base = {
    intervalMs: durationMs(monitoring.interval),
    timeoutMs: 10_000,
    retries: monitoring.retries,
  };
  const hub = hubNode(stack);
  const definitions: MonitorDefinition[] = [];
  // Each route through each gateway's own Caddy: the first gateway's monitor keeps the plain
  // name, the others' carry `@<gateway>`, so adding a gateway renames no monitor.
  for (const [index, gateway] of gatewayNodes(stack).entries())
    for (const [service, spec] of Object.entries(stack.services))
      for (const route of spec.routes) {
        const path = route.path ?? '/';
        definitions.push({
          ...base,
          name: `route:${route.host}${path}${index === 0 ? '' : `@${gateway}`}`,
          target: { kind: 'route', host: route.host, path, service, gateway },
          ...(gateway === hub ? {} : { from: gateway }),
          node: gateway,
          service,
          route: `${route.host}${path}`,
        });
      }
  for (const instance of placeInstances(stack))
    definitions.push({
      ...base,
      // The agent already applies the health check's own thresholds.
      retries: 1,
      name: `instance:${instance.id}`,
      target: {
        kind: 'instance',
        service: instance.service,
        instance: instance.id,
        node: instance.node,
      },
      node: instance.node,
      service: instance.service,
    });
  const nodes = Object.keys(stack.nodes);
  for (const node of nodes) {
    // Liveness already waits out a few missed reports before calling a node lost.
    definitions.push({
      ...base,
      retries: 1,
      name: `node:${node}`,
      target: { kind: 'node', node },
      node,
    });
    definitions.push({ ...base, name: `disk:${node}`, target: { kind: 'disk', node }, node });
  }
  // Each pair once, measured from the first of the two: a mesh link fails both ways. On a
  // tailnet the agents do not know their peers' addresses (Tailscale has `tailscale ping`).
  const measured = stack.mesh.provider === 'wireguard' ? nodes : [];
  for (const [index, from] of measured.entries())
    for (const to of measured.slice(index + 1))
      definitions.push({
        ...base,
        name: `mesh:${from}/${to}`,
        target: { kind: 'mesh', from, to },
        node: from,
      });
  for (const [job, { spec }] of jobEntries(stack))
    definitions.push({
      ...base,
      retries: 1,
      name: `backup:${job}`,
      target: { kind: 'backup', job, schedule: { cron: spec.schedule, timezone: spec.timezone } },
    });
  for (const [name, spec] of Object.entries(stack.monitors))
    definitions.push(declared(name, spec, base));
  return definitions;
}

function declared(
  name: string,
  spec: MonitorSpec,
  base: { intervalMs: number; retries: number },
): MonitorDefinition {
  const common = {
    name,
    intervalMs: spec.interval === undefined ? base.intervalMs : durationMs(spec.interval),
    timeoutMs: durationMs(spec.timeout),
    retries: spec.retries ?? base.retries,
    ...(spec.from === undefined ? {} : { from: spec.from, node: spec.from }),
  };
  const request = monitorCheckRequest(spec);
  if (spec.http) return { ...common, target: { kind: 'http', spec: spec.http, request: request! } };
  if (spec.tcp) return { ...common, target: { kind: 'tcp', spec: spec.tcp, request: request! } };
  const heartbeat = spec.heartbeat!;
  return {
    ...common,
    // Lateness is already graced: the first missed deadline is down.
    retries: 1,
    target: {
      kind: 'heartbeat',
      periodMs: durationMs(heartbeat.period),
      graceMs: durationMs(heartbeat.grace),
      ...(heartbeat.token === undefined ? {} : { token: heartbeat.token }),
    },
  };
}
