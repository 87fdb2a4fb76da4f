// The human view of a plan: what runs where, in which order, reachable how, for how much.
import { localSegmentsRuleset } from '../plan/local-segments.ts';
import type { Plan } from '../plan/plan.ts';
import { maskSecrets, table, type Output } from './output.ts';

function section(output: Output, title: string, body: string): string {
  return `${output.color.bold(title)}\n${body}\n`;
}

function portsText(ports: Record<string, number>): string {
  return (
    Object.entries(ports)
      .map(([name, port]) => `${name}=${port}`)
      .join(' ') || '-'
  );
}

export function renderPlan(plan: Plan, output: Output): string {
  const { color } = output;
  const header = (text: string) => color.dim(text);
  const parts: string[] = [];
  const services = new Set(plan.placement.map((instance) => instance.service)).size;
  parts.push(
    `${color.bold(`Stack ${plan.stack}`)}: ${services} service${services === 1 ? '' : 's'}, ${plan.placement.length} instance${plan.placement.length === 1 ? '' : 's'} on ${Object.keys(plan.nodes).length} node${Object.keys(plan.nodes).length === 1 ? '' : 's'}\n`,
  );
  parts.push(
    section(
      output,
      'Nodes',
      table(
        [
          ['NODE', 'ADDRESS', 'MESH', 'ROLE', 'LABELS', 'COST/MONTH'],
          ...Object.entries(plan.nodes).map(([name, node]) => {
            const cost = plan.cost.nodes[name];
            return [
              name,
              node.address,
              node.mesh_address,
              node.gateway ? 'gateway' : '-',
              node.labels.join(',') || '-',
              cost ? `${cost.monthly.toFixed(2)} ${cost.currency}` : '-',
            ];
          }),
        ],
        header,
      ),
    ),
  );
  parts.push(
    section(
      output,
      'Placement',
      plan.placement.length === 0
        ? '  (no services)'
        : table(
            [
              ['INSTANCE', 'NODE', 'MESH ADDRESS', 'PORTS'],
              ...plan.placement.map((p) => [
                p.instance,
                p.node,
                p.mesh_address,
                portsText(p.ports),
              ]),
            ],
            header,
          ),
    ),
  );
  parts.push(
    section(
      output,
      'Startup order',
      plan.order.map((wave, index) => `  ${index + 1}. ${wave.join(', ')}`).join('\n') ||
        '  (none)',
    ),
  );
  parts.push(
    section(
      output,
      'Routes',
      plan.routes.length === 0
        ? '  (no routes)'
        : table(
            [
              ['URL', 'SERVICE', 'UPSTREAMS', 'TLS'],
              ...plan.routes.map((route) => [
                `https://${route.host}${route.path ?? ''}${route.path ? '/*' : ''}${route.strip_prefix ? ' (prefix stripped)' : ''}`,
                `${route.service}:${route.port}`,
                route.upstreams.map((upstream) => upstream.dial).join(' ') || '-',
                route.tls === 'internal' ? 'internal CA' : 'ACME',
              ]),
            ],
            header,
          ),
    ),
  );
  parts.push(
    section(
      output,
      'Reachability',
      (plan.reachability.grants.length === 0
        ? '  (nothing reaches anything)'
        : table([['TO', 'PORTS', 'FROM', 'VIA'], ...groupedGrants(plan)], header)) +
        `\n  internet egress: ${plan.reachability.egress.join(', ') || 'none'}` +
        plan.reachability.enforcement.map((note) => `\n  ${note}`).join(''),
    ),
  );
  parts.push(
    section(
      output,
      'Firewall',
      `  one nftables table \`inet flotilla\` per node: ${Object.keys(plan.firewall).join(', ')}` +
        `\n  see a ruleset with: flotilla plan --show firewall:<node>` +
        `\n  segments between the services of one node: flotilla plan --show segments:<node>`,
    ),
  );
  if (plan.acl)
    parts.push(section(output, 'Tailscale ACL', '  policy generated: flotilla plan --show acl'));
  const totals = Object.entries(plan.cost.total).map(
    ([currency, amount]) => `${amount.toFixed(2)} ${currency}`,
  );
  parts.push(
    section(
      output,
      'Cost',
      `  ${totals.length === 0 ? 'no node declares a cost' : `${totals.join(' + ')} per month`}`,
    ),
  );
  return maskSecrets(parts.join('\n'));
}

/** One row per target, ports and reason, listing every source: far shorter than one per pair. */
function groupedGrants(plan: Plan): string[][] {
  const rows = new Map<string, string[]>();
  for (const grant of plan.reachability.grants) {
    const key = [grant.to, grant.ports.join(','), grant.via].join('\0');
    rows.set(key, [...(rows.get(key) ?? []), grant.from]);
  }
  return [...rows].map(([key, sources]) => {
    const [to = '', ports = '', via = ''] = key.split('\0');
    return [to, ports, sources.join(', '), via];
  });
}

/** One artifact of the plan, raw, for `--show`: caddy[:node], firewall:<node>, segments:<node>, acl, desired[:node]. */
export function planArtifact(plan: Plan, what: string): { text: string } | { error: string } {
  const [kind, node] = what.split(':');
  const pick = <T>(record: Record<string, T>, label: string): T | { error: string } => {
    const key = node ?? Object.keys(record)[0];
    if (key === undefined || !Object.hasOwn(record, key)) {
      return {
        error: `no ${label} for ${node ?? 'any node'}; nodes with one: ${Object.keys(record).join(', ') || 'none'}`,
      };
    }
    return record[key]!;
  };
  const asText = (value: unknown) =>
    typeof value === 'string' ? value : maskSecrets(JSON.stringify(value, null, 2));
  let value: unknown;
  switch (kind) {
    case 'caddy':
      value = pick(plan.caddy, 'gateway');
      break;
    case 'firewall':
      value = pick(plan.firewall, 'firewall');
      break;
    case 'desired':
      value = pick(plan.desired, 'desired state');
      break;
    case 'segments': {
      // As the agent renders it on a machine that mounts cgroup2 at /sys/fs/cgroup.
      const desired = pick(plan.desired, 'desired state');
      value = 'error' in desired ? desired : localSegmentsRuleset(desired.segments!);
      break;
    }
    case 'acl':
      value = plan.acl ?? { error: 'no Tailscale ACL: the mesh provider is not tailscale' };
      break;
    default:
      return {
        error: `unknown artifact "${what}": use caddy[:node], firewall[:node], segments[:node], desired[:node] or acl`,
      };
  }
  if (
    value !== null &&
    typeof value === 'object' &&
    'error' in value &&
    Object.keys(value).length === 1
  ) {
    return value as { error: string };
  }
  return { text: asText(value) };
}
