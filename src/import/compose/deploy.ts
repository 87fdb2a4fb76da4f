// How many, how much and when to restart: `deploy.replicas` / `scale` → replicas,
// `deploy.resources.limits` / `mem_limit` / `cpus` → memory and cpus, `restart` (or
// `deploy.restart_policy`) → restart. Compose's default is not to restart a container
// that exits, so a service without `restart` gets `restart: never`.
import { parseSize } from '../../spec/formats.ts';
import type { ComposeContext } from './context.ts';
import type { ServiceState } from './service-state.ts';
import type { Entry, MapNode, Node, Pos } from './tree.ts';

function child(node: Node | undefined, key: string): Entry | undefined {
  return node?.kind === 'map' ? node.entries.get(key) : undefined;
}

/** The service's replica count as Compose reads it (deploy.replicas, else scale). */
export function readReplicas(
  context: ComposeContext,
  service: MapNode,
  name: string,
): { count: number; at: Pos } | undefined {
  const entry = child(child(service, 'deploy')?.value, 'replicas') ?? service.entries.get('scale');
  if (!entry) return undefined;
  const text = context.text(entry.value, `services.${name}.${entry.key}`);
  const count = Number(text);
  if (text === undefined || !Number.isInteger(count) || count < 0) {
    context.malformed(
      entry.value.pos,
      `services.${name}.${entry.key}`,
      'expected a whole number of replicas',
    );
    return undefined;
  }
  return { count, at: entry.value.pos };
}

const RESTART: Record<string, string> = {
  no: 'never',
  none: 'never',
  always: 'always',
  any: 'always',
  'unless-stopped': 'always',
  'on-failure': 'on-failure',
};

export function mapDeploy(state: ServiceState): void {
  const { context } = state;
  const replicas = readReplicas(context, state.node, state.composeName);
  if (replicas && replicas.count > 1) {
    if (replicas.count > 100)
      context.note(
        'changed',
        replicas.at,
        state.path('deploy.replicas'),
        `${replicas.count} replicas: Flotilla runs at most 100 of a service`,
      );
    state.draft.set('replicas', Math.min(replicas.count, 100), replicas.at);
  }
  const deploy = state.entry('deploy');
  if (deploy) deployOptions(state, deploy.value);
  limits(state, deploy?.value);
  restart(state, deploy?.value);
}

function deployOptions(state: ServiceState, deploy: Node): void {
  const path = state.path('deploy');
  if (deploy.kind !== 'map') {
    state.context.malformed(deploy.pos, path, 'expected a mapping');
    return;
  }
  const hints: Record<string, string> = {
    mode: 'a service runs `replicas` instances; for one per node, place it with `labels` and set replicas to the number of nodes',
    placement: 'place the service with `node:` or `labels:` (every label a node must carry)',
    update_config: 'Flotilla restarts one instance at a time, each healthy before the next',
    rollback_config: 'Flotilla restarts one instance at a time, each healthy before the next',
    endpoint_mode: 'services are reached by name at the node that runs them',
    labels: 'Flotilla has no labels on services',
  };
  for (const [key, entry] of deploy.entries) {
    if (
      key === 'replicas' ||
      key === 'resources' ||
      key === 'restart_policy' ||
      key.startsWith('x-')
    )
      continue;
    if (key === 'mode' && state.context.text(entry.value, `${path}.mode`) === 'replicated')
      continue;
    state.context.note(
      'untranslated',
      entry.keyPos,
      `${path}.${key}`,
      `deploy.${key} has no equivalent`,
      hints[key] ?? 'Flotilla does not use Swarm settings',
    );
  }
}

/** `512M`, `1gb`, 536870912 → a size the stack file accepts, e.g. 512m. */
function memory(text: string): string | undefined {
  const bytes = parseSize(text);
  if (bytes === undefined || bytes <= 0) return undefined;
  for (const [unit, size] of [
    ['g', 2 ** 30],
    ['m', 2 ** 20],
    ['k', 2 ** 10],
  ] as const)
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  return String(bytes);
}

function limits(state: ServiceState, deploy: Node | undefined): void {
  const { context } = state;
  const resources = child(deploy, 'resources');
  const limitsEntry = child(resources?.value, 'limits');
  for (const [key, entry] of resources?.value.kind === 'map' ? resources.value.entries : [])
    if (key !== 'limits')
      context.note(
        'untranslated',
        entry.keyPos,
        state.path(`deploy.resources.${key}`),
        `resource ${key} have no equivalent`,
        'Flotilla places services by node and labels and limits each container; it reserves nothing',
      );
  for (const [key, entry] of limitsEntry?.value.kind === 'map' ? limitsEntry.value.entries : [])
    if (key !== 'memory' && key !== 'cpus')
      context.note(
        'untranslated',
        entry.keyPos,
        state.path(`deploy.resources.limits.${key}`),
        `the ${key} limit has no equivalent`,
        'Flotilla limits memory and cpus',
      );
  const memoryEntry = child(limitsEntry?.value, 'memory') ?? state.entry('mem_limit');
  if (memoryEntry) {
    const path = state.path(
      memoryEntry.key === 'mem_limit' ? 'mem_limit' : 'deploy.resources.limits.memory',
    );
    const text = context.text(memoryEntry.value, path);
    const size = text === undefined ? undefined : memory(text);
    if (size === undefined)
      context.note(
        'untranslated',
        memoryEntry.value.pos,
        path,
        `"${text ?? ''}" is not a memory size`,
        'write e.g. 512m or 1g',
      );
    else state.draft.set('memory', size, memoryEntry.value.pos);
  }
  const cpusEntry = child(limitsEntry?.value, 'cpus') ?? state.entry('cpus');
  if (cpusEntry) {
    const path = state.path(
      cpusEntry === state.entry('cpus') ? 'cpus' : 'deploy.resources.limits.cpus',
    );
    const cpus = Number(context.text(cpusEntry.value, path));
    if (!Number.isFinite(cpus) || cpus <= 0 || cpus > 256)
      context.malformed(cpusEntry.value.pos, path, 'expected a number of CPUs such as 0.5');
    else state.draft.set('cpus', cpus, cpusEntry.value.pos);
  }
}

function restart(state: ServiceState, deploy: Node | undefined): void {
  const { context } = state;
  const policy = child(deploy, 'restart_policy');
  const restartEntry = state.entry('restart');
  if (restartEntry) {
    const path = state.path('restart');
    const text = context.text(restartEntry.value, path) ?? '';
    const [mode, retries] = text.split(':');
    const mapped = RESTART[mode!];
    if (mapped === undefined || mode === 'any' || mode === 'none') {
      context.note(
        'untranslated',
        restartEntry.value.pos,
        path,
        `unknown restart policy "${text}"`,
        'Compose takes no, always, on-failure[:retries] or unless-stopped',
      );
      return;
    }
    state.draft.set('restart', mapped, restartEntry.value.pos);
    if (mode === 'unless-stopped')
      context.note(
        'changed',
        restartEntry.value.pos,
        path,
        'unless-stopped is restart: always; `flotilla down` stops the service, and it stays stopped until `up`',
      );
    if (retries !== undefined)
      context.note(
        'changed',
        restartEntry.value.pos,
        path,
        `Flotilla does not stop after ${retries} retries: it backs off (×1.5, at most 15 s) and marks the service failed after 16 unstable starts`,
      );
    if (policy)
      context.note(
        'untranslated',
        policy.keyPos,
        state.path('deploy.restart_policy'),
        'restart is used; deploy.restart_policy is not carried over',
        'keep one of them in the Compose file',
      );
    return;
  }
  if (policy && policy.value.kind === 'map') {
    const path = state.path('deploy.restart_policy');
    const condition = policy.value.entries.get('condition');
    const text = condition ? context.text(condition.value, `${path}.condition`) : 'any';
    const mapped = RESTART[text ?? ''];
    if (mapped === undefined || text === 'no' || text === 'unless-stopped' || text === 'always')
      context.note(
        'untranslated',
        policy.keyPos,
        path,
        `unknown condition "${text ?? ''}"`,
        'Compose takes none, on-failure or any',
      );
    else state.draft.set('restart', mapped, condition?.value.pos ?? policy.keyPos);
    for (const [key, entry] of policy.value.entries)
      if (key !== 'condition')
        context.note(
          'untranslated',
          entry.keyPos,
          `${path}.${key}`,
          `${key} has no equivalent`,
          'Flotilla backs off ×1.5 up to 15 s and marks the service failed after 16 unstable starts',
        );
    return;
  }
  // Compose's default; import-compose.ts says so once for all such services.
  state.draft.set('restart', 'never', state.at);
  state.restartDefaulted = true;
}
