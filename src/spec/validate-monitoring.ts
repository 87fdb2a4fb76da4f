// Whole-stack checks of monitors, maintenance windows and alert channels: the names they
// refer to exist, heartbeats have a public host to be pinged on, channel names are unique.
import { hubNode } from '../plan/firewall-access.ts';
import { InvalidCheckRequestError, monitorCheckRequest } from '../monitoring/check-request.ts';
import type { PathSegment } from './diagnostic.ts';
import type { Stack } from './schema.ts';
import { didYouMean } from './suggest.ts';

type Report = (path: PathSegment[], message: string, hint?: string) => void;

/** The kinds of monitor Flotilla derives, as the prefix of their names (`route:api.example.com/`). */
export const DERIVED_MONITOR_KINDS = ['route', 'instance', 'node', 'disk', 'mesh', 'backup'];

export function checkMonitoring(stack: Stack, report: Report): void {
  const nodes = Object.keys(stack.nodes);
  const declared = Object.keys(stack.monitors);
  const tokens = new Map<string, string>();
  for (const [name, monitor] of Object.entries(stack.monitors)) {
    if (monitor.from !== undefined && !nodes.includes(monitor.from))
      report(
        ['monitors', name, 'from'],
        `unknown node \`${monitor.from}\``,
        didYouMean(monitor.from, nodes) ?? `known nodes: ${nodes.join(', ')}`,
      );
    if (monitor.http) {
      try {
        monitorCheckRequest(monitor);
      } catch (error) {
        if (!(error instanceof InvalidCheckRequestError)) throw error;
        // The check schema's first complaint, without its framing ("invalid check request: ✖ …").
        const first = error.message.replace(/^invalid check request:\s*/, '').split('\n')[0]!;
        report(['monitors', name, 'http'], first.replace(/^✖\s*/, ''));
      }
    }
    const token = monitor.heartbeat?.token;
    if (token !== undefined) {
      const other = tokens.get(token);
      if (other === undefined) tokens.set(token, name);
      else
        report(
          ['monitors', name, 'heartbeat', 'token'],
          `monitor \`${other}\` has the same push token`,
          'give each heartbeat its own token, or leave it out and the hub makes one',
        );
    }
    if (monitor.heartbeat && !stack.monitoring.push)
      report(
        ['monitors', name, 'heartbeat'],
        'a heartbeat monitor needs the public host jobs ping',
        `add \`monitoring: { push: { host: status.example.com } }\`: jobs then ping https://status.example.com/ping/<token>`,
      );
  }
  const hub = hubNode(stack);
  if (stack.monitoring.push && (hub === undefined || !stack.nodes[hub]?.gateway))
    report(
      ['monitoring', 'push'],
      'heartbeat pings reach the hub through its gateway, and no node is a gateway',
      'add `gateway: true` to the node that should run Caddy',
    );
  stack.monitoring.maintenance.forEach((window, index) =>
    window.monitors.forEach((pattern, position) => {
      const problem = patternProblem(pattern, declared);
      if (problem) report(['monitoring', 'maintenance', index, 'monitors', position], ...problem);
    }),
  );
  const named = new Map<string, number>();
  stack.alerts.forEach((channel, index) => {
    if (channel.name === undefined) return;
    const first = named.get(channel.name);
    if (first === undefined) named.set(channel.name, index);
    else
      report(
        ['alerts', index, 'name'],
        `alert channel name \`${channel.name}\` is already channel ${first + 1}'s`,
        'give each channel its own name',
      );
  });
}

/** Why a maintenance window's monitor name or prefix can match nothing, if it cannot. */
function patternProblem(pattern: string, declared: string[]): [string, string] | undefined {
  const kind = pattern.includes(':') ? pattern.slice(0, pattern.indexOf(':')) : undefined;
  if (kind !== undefined) {
    if (DERIVED_MONITOR_KINDS.includes(kind)) return undefined;
    return [
      `unknown kind of monitor \`${kind}:\``,
      `Flotilla derives ${DERIVED_MONITOR_KINDS.map((known) => `${known}:…`).join(', ')}`,
    ];
  }
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    if (prefix === '' || declared.some((name) => name.startsWith(prefix))) return undefined;
    return [
      `no monitor name starts with \`${prefix}\``,
      `declared monitors: ${declared.join(', ')}`,
    ];
  }
  if (declared.includes(pattern)) return undefined;
  return [
    `unknown monitor \`${pattern}\``,
    didYouMean(pattern, declared) ??
      (declared.length > 0
        ? `declared monitors: ${declared.join(', ')}`
        : 'derived monitors are named kind:…, e.g. route:api.example.com/ or node:db'),
  ];
}
