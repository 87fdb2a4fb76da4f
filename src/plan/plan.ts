// plan: a pure function from a validated stack to everything the cluster needs. Same
// input, same output, no I/O — so every artifact is unit-tested and `plan` can be shown
// before anything changes.
import type { Stack } from '../spec/schema.ts';
import { caddyConfig, caddyOptions, type CaddyConfig } from './caddy.ts';
import { monthlyCost, type CostReport } from './cost.ts';
import { desiredState, type DesiredNode, type DesiredOptions } from './desired.ts';
import { firewallRuleset } from './firewall.ts';
import { serviceAccess } from './firewall-access.ts';
import { groupBy } from './group-by.ts';
import { segmentEnforcement } from './local-segments.ts';
import { allocateMeshAddresses } from './mesh-addresses.ts';
import { startupWaves } from './order.ts';
import { placeInstances } from './placement.ts';
import { computeReachability, describeSource, type Grant } from './reachability.ts';
import { routeTable, type RouteEntry } from './routes.ts';
import { tailscaleAcl, type TailscalePolicy } from './tailscale-acl.ts';

export interface PlacedInstance {
  instance: string;
  service: string;
  node: string;
  mesh_address: string;
  ports: Record<string, number>;
}

export interface Plan {
  stack: string;
  nodes: Record<
    string,
    { address: string; mesh_address: string; gateway: boolean; labels: string[] }
  >;
  placement: PlacedInstance[];
  order: string[][];
  desired: Record<string, DesiredNode>;
  /** As seen from the primary gateway (the first node with `gateway: true`). */
  routes: RouteEntry[];
  /** One Caddy config per gateway node. */
  caddy: Record<string, CaddyConfig>;
  firewall: Record<string, string>;
  reachability: {
    grants: { from: string; to: string; ports: string[]; via: string }[];
    egress: string[];
    /** What enforces the grants, and what it does not cover. */
    enforcement: string[];
  };
  acl: TailscalePolicy | null;
  cost: CostReport;
}

function describeGrant(grant: Grant) {
  return { from: describeSource(grant.source), to: grant.to, ports: grant.ports, via: grant.via };
}

export function planStack(stack: Stack, options: DesiredOptions): Plan {
  const meshAddresses = allocateMeshAddresses(stack);
  const instances = placeInstances(stack);
  const reachability = computeReachability(stack);
  const access = groupBy(serviceAccess({ stack, instances, reachability }), (entry) => entry.node);
  const gateways = Object.keys(stack.nodes).filter((node) => stack.nodes[node]!.gateway);
  const gatewayOptions = caddyOptions(stack);
  const graph = Object.fromEntries(
    Object.entries(stack.services).map(([name, service]) => [name, service.depends_on]),
  );
  return {
    stack: stack.name,
    nodes: Object.fromEntries(
      Object.entries(stack.nodes).map(([name, node]) => [
        name,
        {
          address: node.address,
          mesh_address: meshAddresses[name]!,
          gateway: node.gateway,
          labels: node.labels,
        },
      ]),
    ),
    placement: instances.map((instance) => ({
      instance: instance.id,
      service: instance.service,
      node: instance.node,
      mesh_address: meshAddresses[instance.node]!,
      ports: instance.ports,
    })),
    order: startupWaves(graph),
    desired: desiredState(stack, instances, meshAddresses, reachability, options),
    routes:
      gateways[0] === undefined
        ? []
        : routeTable(stack, instances, meshAddresses, gateways[0], options.releases),
    caddy: Object.fromEntries(
      gateways.map((gateway) => [
        gateway,
        caddyConfig(
          routeTable(stack, instances, meshAddresses, gateway, options.releases),
          gatewayOptions,
        ),
      ]),
    ),
    firewall: Object.fromEntries(
      Object.keys(stack.nodes).map((node) => [
        node,
        firewallRuleset({
          stack,
          node,
          instances,
          meshAddresses,
          reachability,
          access: access.get(node) ?? [],
        }),
      ]),
    ),
    reachability: {
      grants: reachability.grants.map(describeGrant),
      egress: reachability.egress,
      enforcement: segmentEnforcement(stack),
    },
    acl: tailscaleAcl({ stack, instances, reachability }),
    cost: monthlyCost(stack),
  };
}
