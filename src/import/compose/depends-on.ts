// `depends_on`, list or mapping form → depends_on. Flotilla starts a service once each
// dependency is healthy (running, when it has no health check): `service_healthy` maps
// exactly, `service_started` becomes that stricter wait, and
// `service_completed_successfully` (a one-shot job such as a migration) has no
// equivalent: Flotilla has no run-to-completion services, so the edge is dropped.
import type { ServiceState } from './service-state.ts';
import type { Node, Pos } from './tree.ts';

interface Dependency {
  name: string;
  at: Pos;
  options?: Node;
}

export function mapDependsOn(state: ServiceState): void {
  const entry = state.entry('depends_on');
  if (!entry) return;
  const { context, names } = state;
  const path = state.path('depends_on');
  const dependencies: Dependency[] = [];
  if (entry.value.kind === 'seq') {
    entry.value.items.forEach((item, index) => {
      const name = context.expectText(item, `${path}[${index}]`, 'a service name');
      if (name !== undefined) dependencies.push({ name, at: item.pos });
    });
  } else if (entry.value.kind === 'map') {
    for (const [name, dependency] of entry.value.entries)
      dependencies.push({ name, at: dependency.keyPos, options: dependency.value });
  } else {
    context.malformed(entry.value.pos, path, 'expected a list or mapping of services');
    return;
  }
  for (const { name, at, options } of dependencies) {
    const where = `${path}.${name}`;
    if (!dependencyOptions(state, name, options, where)) continue;
    const target = names.services.get(name);
    if (target !== undefined) {
      state.draft.push('depends_on', target, at);
      continue;
    }
    const reason = names.leftOut.get(name);
    context.note(
      reason === undefined ? 'untranslated' : 'changed',
      at,
      where,
      reason === undefined
        ? `there is no service ${name}`
        : `${name} is left out (${reason}): the dependency is dropped`,
    );
  }
}

/** Notes on the mapping form's options; false when the dependency cannot be kept. */
function dependencyOptions(
  state: ServiceState,
  name: string,
  options: Node | undefined,
  where: string,
): boolean {
  if (options?.kind !== 'map') return true;
  const { context } = state;
  let keep = true;
  for (const [key, option] of options.entries) {
    const text = context.text(option.value, `${where}.${key}`);
    if (key === 'condition') {
      if (text === 'service_completed_successfully') {
        context.note(
          'untranslated',
          option.value.pos,
          `${where}.condition`,
          `Flotilla has no run-to-completion services: waiting for ${name} to finish is dropped`,
          `run ${name}'s job before \`flotilla up\`, or make it part of this service's entrypoint`,
        );
        keep = false;
      } else if (text === 'service_started') {
        context.note(
          'changed',
          option.value.pos,
          `${where}.condition`,
          `Flotilla waits for ${name} to be healthy (running, when it has no health check), not only started`,
        );
      } else if (text !== 'service_healthy') {
        context.note(
          'untranslated',
          option.value.pos,
          `${where}.condition`,
          `unknown condition "${text ?? ''}"`,
          'Compose takes service_started, service_healthy or service_completed_successfully',
        );
      }
    } else if (key === 'restart' && text === 'true') {
      context.note(
        'untranslated',
        option.keyPos,
        `${where}.restart`,
        `Flotilla does not restart this service when ${name} restarts`,
        `restart it yourself after ${name}: flotilla restart <service>`,
      );
    } else if (key === 'required' && text === 'false') {
      context.note(
        'changed',
        option.keyPos,
        `${where}.required`,
        `Flotilla always waits for ${name}; it is not optional`,
      );
    } else if (key !== 'restart' && key !== 'required') {
      context.note(
        'untranslated',
        option.keyPos,
        `${where}.${key}`,
        `unknown depends_on option \`${key}\``,
        'Compose takes condition, restart and required',
      );
    }
  }
  return keep;
}
