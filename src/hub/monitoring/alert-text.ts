// What an alert says about a monitor's decision: the thing watched, in words a person on
// call reads at 3 a.m. ("instance api-1 of api on node web is down: backoff: exited 1"),
// with the facts every channel lists (stack, node, service, route, last error).
import { formatElapsed, type AlertKind, type AlertMessage } from '../alerts/alert-message.ts';
import type { MonitorDefinition } from './monitor-definitions.ts';
import type { AlertDecision } from './monitor-tracker.ts';

/** The thing a monitor watches, as a sentence's subject. */
export function monitorSubject(definition: MonitorDefinition): string {
  const { target } = definition;
  switch (target.kind) {
    case 'route':
      return `https://${target.host}${target.path} (through the gateway on ${target.gateway})`;
    case 'instance':
      return `instance ${target.instance} of ${target.service} on node ${target.node}`;
    case 'node':
      return `node ${target.node}`;
    case 'disk':
      return `the disk of node ${target.node}`;
    case 'mesh':
      return `the mesh link from ${target.from} to ${target.to}`;
    case 'backup':
      return `backup job ${target.job}`;
    case 'http':
      return `${target.spec.method} ${target.spec.url}`;
    case 'tcp':
      return `tcp ${target.spec.host}:${target.spec.port}`;
    case 'heartbeat':
      return `the job pinging heartbeat ${definition.name}`;
  }
}

function sentence(definition: MonitorDefinition, decision: AlertDecision): [AlertKind, string] {
  const subject = monitorSubject(definition);
  switch (decision.kind) {
    case 'down':
      return ['down', `${subject} is down: ${decision.detail}`];
    case 'up':
      return ['up', `${subject} is up again after ${formatElapsed(decision.durationMs)}`];
    case 'reminder':
      return ['reminder', `${subject} is still down: ${decision.detail}`];
    case 'flapping':
      return [
        'flapping',
        `${subject} changed between up and down ${decision.changes} times in ${formatElapsed(decision.windowMs)}; quiet until it settles (now ${decision.status})`,
      ];
    case 'settled':
      return [
        decision.status,
        `${subject} stopped flapping and is ${decision.status}${decision.status === 'down' ? `: ${decision.detail}` : ''}`,
      ];
  }
}

export function describeAlert(
  stack: string,
  definition: MonitorDefinition,
  decision: AlertDecision,
): Omit<AlertMessage, 'at'> {
  const [kind, what] = sentence(definition, decision);
  const incident = 'incident' in decision ? decision.incident : undefined;
  return {
    kind,
    stack,
    monitor: definition.name,
    what,
    ...(definition.node === undefined ? {} : { node: definition.node }),
    ...(definition.service === undefined ? {} : { service: definition.service }),
    ...(definition.route === undefined ? {} : { route: definition.route }),
    ...(decision.kind === 'up' ? {} : { error: decision.detail }),
    ...(incident === undefined ? {} : { since: incident.since }),
    ...(decision.kind === 'up' ? { durationMs: decision.durationMs } : {}),
  };
}
