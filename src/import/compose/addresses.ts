// Addresses written for a port whose node port is not the container's. On Compose's
// network `minio2:9000` reaches the container; in Flotilla a service name resolves to the
// node that runs it (the hosts entries the agent keeps) and the container is reached on
// its node port. So `minio2:9000` in an environment value or a command becomes
// `minio2:9002`, with a note at the value. An address that leaves the port out (a
// client's default) cannot be seen: the note on the port says where it is reached.
import type { ServiceState } from './service-state.ts';
import type { Pos } from './tree.ts';

interface Rewrite {
  pattern: RegExp;
  replacement: string;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function rewrites(states: ServiceState[]): Rewrite[] {
  return states.flatMap((state) =>
    state.ports
      .filter((port) => port.host !== port.port)
      .map((port) => ({
        // Not inside a longer name (`old-minio2:9000`) nor a longer number (`:90001`).
        pattern: new RegExp(
          `(?<![\\w.-])${escapeRegExp(state.composeName)}:${port.port}(?!\\d)`,
          'gi',
        ),
        replacement: `${state.draft.name}:${port.host}`,
      })),
  );
}

export function rewriteAddresses(states: ServiceState[]): void {
  const all = rewrites(states);
  if (all.length === 0) return;
  const rewrite = (state: ServiceState, text: string, at: Pos, path: string): string => {
    let result = text;
    for (const { pattern, replacement } of all)
      result = result.replace(pattern, (found) => {
        state.context.note(
          'changed',
          at,
          path,
          `${found} is written ${replacement}: in Flotilla a service is reached on its node port`,
        );
        return replacement;
      });
    return result;
  };
  for (const state of states) {
    const { draft } = state;
    const env = draft.fields.env as Record<string, unknown> | undefined;
    for (const [key, value] of Object.entries(env ?? {}))
      if (typeof value === 'string')
        env![key] = rewrite(
          state,
          value,
          (draft.origins.get(`env.${key}`) as Pos | undefined) ?? state.at,
          state.path(`environment.${key}`),
        );
    for (const key of ['command', 'entrypoint']) {
      const argv = draft.fields[key] as string[] | undefined;
      argv?.forEach((word, index) => {
        argv[index] = rewrite(
          state,
          word,
          (draft.origins.get(key) as Pos | undefined) ?? state.at,
          state.path(key),
        );
      });
    }
  }
}
