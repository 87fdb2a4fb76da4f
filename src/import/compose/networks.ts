// Compose networks → network segments. A service on no network is on `default`, as in
// both; a declared network becomes a segment (`internal: true` stays internal, any other
// may reach the internet, as a Compose network can: `egress: true`). Drivers, IPAM,
// aliases and fixed addresses have no equivalent (Flotilla picks addresses, and a
// service is found by its name); `network_mode` neither.
import { dnsName, unique } from '../names.ts';
import type { StackDraft } from '../stack-draft.ts';
import type { ComposeContext } from './context.ts';
import type { ProjectNames, ServiceState } from './service-state.ts';
import type { MapNode } from './tree.ts';

const DEFAULT = 'default';

/** Names the declared networks' segments (before services are mapped). */
export function nameNetworks(top: MapNode | undefined, names: ProjectNames): void {
  const taken = new Set([DEFAULT]);
  for (const name of top?.entries.keys() ?? [])
    names.networks.set(name, name === DEFAULT ? DEFAULT : unique(dnsName(name, 'net'), taken));
}

/** The segments of the networks the imported services use. */
export function mapNetworks(
  context: ComposeContext,
  top: MapNode | undefined,
  names: ProjectNames,
  used: Set<string>,
  draft: StackDraft,
): void {
  for (const [name, entry] of top?.entries ?? []) {
    const path = `networks.${name}`;
    const segment = names.networks.get(name)!;
    if (!used.has(segment)) continue;
    const config = entry.value.kind === 'map' ? entry.value : undefined;
    const internalNode = config?.entries.get('internal')?.value;
    const internal =
      internalNode !== undefined && context.bool(internalNode, `${path}.internal`) === true;
    for (const [key, option] of config?.entries ?? []) {
      if (key === 'internal' || key.startsWith('x-')) continue;
      context.note(
        'untranslated',
        option.keyPos,
        `${path}.${key}`,
        `network option \`${key}\` has no equivalent`,
        key === 'external'
          ? 'Flotilla makes its own segment for this network; containers outside the stack cannot join it'
          : 'a segment only says who may reach whom: Flotilla picks drivers and addresses',
      );
    }
    if (segment === DEFAULT) {
      // The default segment reaches the internet unless declared internal.
      if (internal) draft.networks[DEFAULT] = { internal: true };
    } else {
      draft.networks[segment] = internal ? { internal: true } : { egress: true };
    }
    draft.networkOrigins.set(segment, entry.keyPos);
  }
}

/** The service's `networks:` (list or mapping) → its segments; `network_mode` is listed. */
export function mapServiceNetworks(state: ServiceState, used: Set<string>): void {
  const { context } = state;
  const mode = state.entry('network_mode');
  if (mode) {
    const text = context.text(mode.value, state.path('network_mode'));
    context.note(
      'untranslated',
      mode.keyPos,
      state.path('network_mode'),
      `network_mode ${text ?? ''} has no equivalent`,
      text === 'host'
        ? "Flotilla publishes the service's declared ports on the node instead"
        : 'the service gets its own network, in the segments it lists',
    );
  }
  const entry = state.entry('networks');
  if (!entry) {
    used.add(DEFAULT);
    return;
  }
  const path = state.path('networks');
  const node = entry.value;
  const listed: { name: string; at: typeof entry.keyPos; config?: MapNode }[] = [];
  if (node.kind === 'seq') {
    node.items.forEach((item, index) => {
      const name = context.expectText(item, `${path}[${index}]`, 'a network name');
      if (name !== undefined) listed.push({ name, at: item.pos });
    });
  } else if (node.kind === 'map') {
    for (const [name, network] of node.entries)
      listed.push(
        network.value.kind === 'map'
          ? { name, at: network.keyPos, config: network.value }
          : { name, at: network.keyPos },
      );
  } else {
    context.malformed(node.pos, path, 'expected a list or mapping of networks');
    return;
  }
  for (const { name, at, config } of listed) {
    const segment = name === DEFAULT ? DEFAULT : state.names.networks.get(name);
    if (segment === undefined) {
      context.note(
        'untranslated',
        at,
        `${path}.${name}`,
        `network ${name} is not declared under the top-level networks:`,
        'declare it (Compose refuses an undeclared network)',
      );
      continue;
    }
    used.add(segment);
    state.draft.push('networks', segment, at);
    for (const [key, option] of config?.entries ?? [])
      context.note(
        'untranslated',
        option.keyPos,
        `${path}.${name}.${key}`,
        `\`${key}\` has no equivalent`,
        key === 'aliases'
          ? 'a service is reached by its own name (and <name>.<stack>.internal); other names are not added'
          : 'Flotilla picks the addresses on a segment',
      );
  }
}
