// `healthcheck:` → `health:`. `test: [CMD, prog, arg]` is an exec check with that argv;
// `[CMD-SHELL, "…"]` and a plain string are what Docker runs with `/bin/sh -c` inside the
// container, so they become exec [/bin/sh, -c, "…"] (the same thing, said in a note);
// `[NONE]` and `disable: true` turn the image's HEALTHCHECK off, which Flotilla cannot.
// interval and timeout carry over, retries is unhealthy_threshold; start_period has no
// field (a new instance is out of the routes until its first pass; nothing restarts it).
import { escapeLiteral } from '../../spec/interpolation.ts';
import { formatDuration, parseGoDuration } from '../durations.ts';
import type { ServiceState } from './service-state.ts';
import type { MapNode, Node } from './tree.ts';

const NO_OFF_SWITCH =
  "Compose turns the image's HEALTHCHECK off; Flotilla uses the image's check when a service has no `health:`";

export function mapHealthcheck(state: ServiceState): void {
  const entry = state.entry('healthcheck');
  if (!entry) return;
  const { context } = state;
  const path = state.path('healthcheck');
  const node = entry.value;
  if (node.kind !== 'map') {
    context.malformed(node.pos, path, 'expected a mapping with test, interval, timeout, retries');
    return;
  }
  const field = (key: string) => node.entries.get(key);
  const disable = field('disable');
  if (disable && context.bool(disable.value, `${path}.disable`) === true) {
    context.note(
      'untranslated',
      disable.keyPos,
      `${path}.disable`,
      'the health check is disabled',
      NO_OFF_SWITCH,
    );
    return;
  }
  const test = field('test');
  // `disable: false` alone says nothing: the image's check stays, as without the key.
  if (!test && [...node.entries.keys()].every((key) => key === 'disable')) return;
  if (!test) {
    context.note(
      'untranslated',
      entry.keyPos,
      path,
      "a healthcheck without `test` retimes the image's HEALTHCHECK; Flotilla cannot change the image's check",
      'write the check in full as a `test:`',
    );
    return;
  }
  const command = testCommand(state, test.value, `${path}.test`);
  if (command === undefined) return;
  const health: Record<string, unknown> = { exec: { command } };
  timing(state, node, path, health);
  state.draft.set('health', health, test.value.pos);
}

/** The exec argv of a `test:`, or undefined after a note. */
function testCommand(state: ServiceState, node: Node, path: string): string[] | undefined {
  const { context } = state;
  const shell = (script: string) => {
    context.note(
      'changed',
      node.pos,
      path,
      'Docker runs a CMD-SHELL test with /bin/sh -c inside the container: written as exec [/bin/sh, -c, …], which does the same',
    );
    return ['/bin/sh', '-c', escapeLiteral(script)];
  };
  if (node.kind === 'scalar') {
    const script = context.expectText(node, path, 'a command');
    return script === undefined || script === '' ? undefined : shell(script);
  }
  if (node.kind !== 'seq' || node.items.length === 0) {
    context.malformed(node.pos, path, 'expected [CMD, …], [CMD-SHELL, "…"], [NONE] or a string');
    return undefined;
  }
  const words = node.items.map((item, index) =>
    context.expectText(item, `${path}[${index}]`, 'a string'),
  );
  if (words.some((word) => word === undefined)) return undefined;
  const [kind, ...rest] = words as string[];
  if (kind === 'NONE') {
    context.note(
      'untranslated',
      node.pos,
      path,
      'the health check is disabled ([NONE])',
      NO_OFF_SWITCH,
    );
    return undefined;
  }
  if (kind === 'CMD-SHELL' && rest.length > 0) return shell(rest.join(' '));
  if (kind === 'CMD' && rest.length > 0) return rest.map(escapeLiteral);
  context.malformed(
    node.pos,
    path,
    `a test starts with CMD, CMD-SHELL or NONE and names a command, found ${kind}`,
  );
  return undefined;
}

function timing(
  state: ServiceState,
  node: MapNode,
  path: string,
  health: Record<string, unknown>,
): void {
  const { context } = state;
  for (const [key, target] of [
    ['interval', 'interval'],
    ['timeout', 'timeout'],
  ] as const) {
    const value = node.entries.get(key)?.value;
    if (value === undefined) continue;
    const text = context.expectText(value, `${path}.${key}`, 'a duration');
    const ms = text === undefined ? undefined : parseGoDuration(text);
    if (ms === undefined || ms <= 0) {
      if (text !== undefined)
        context.note(
          'untranslated',
          value.pos,
          `${path}.${key}`,
          `"${text}" is not a duration`,
          'write e.g. 10s or 1m30s',
        );
      continue;
    }
    health[target] = formatDuration(ms);
  }
  const retries = node.entries.get('retries')?.value;
  if (retries) {
    const count = Number(context.text(retries, `${path}.retries`));
    if (Number.isInteger(count) && count >= 1) health.unhealthy_threshold = count;
    else context.malformed(retries.pos, `${path}.retries`, 'expected a whole number of at least 1');
  }
  for (const key of ['start_period', 'start_interval']) {
    const entry = node.entries.get(key);
    if (entry)
      context.note(
        'untranslated',
        entry.keyPos,
        `${path}.${key}`,
        `Flotilla has no ${key}`,
        'a new instance is unhealthy (out of the routes, not restarted) until its first passing check, so a slow start needs no grace period',
      );
  }
}
