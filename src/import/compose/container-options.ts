// Settings of the container itself: `user`, `read_only`, `cap_drop`, `stop_signal` and
// `stop_grace_period` carry over as they are (a signal may be written TERM or SIGTERM, a
// capability with or without CAP_); a value Flotilla cannot take is listed.
import { SIGNALS } from '../../spec/schema.ts';
import { formatDuration, parseGoDuration } from '../durations.ts';
import type { ServiceState } from './service-state.ts';

const USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/;
const CAPABILITY = /^(ALL|[A-Z][A-Z_]{1,31})$/;

export function mapContainerOptions(state: ServiceState): void {
  const { context, draft } = state;
  const user = state.entry('user');
  if (user) {
    const text = context.expectText(user.value, state.path('user'), 'a user');
    if (text !== undefined && USER.test(text)) draft.set('user', text, user.value.pos);
    else if (text !== undefined)
      context.note(
        'untranslated',
        user.value.pos,
        state.path('user'),
        `"${text}" is not a user Flotilla accepts`,
        'write a name, a uid, or user:group such as 1000:1000',
      );
  }
  const readOnly = state.entry('read_only');
  if (readOnly && context.bool(readOnly.value, state.path('read_only')) === true)
    draft.set('read_only', true, readOnly.value.pos);
  const capDrop = state.entry('cap_drop');
  if (capDrop) {
    for (const { text, at, path } of context.textList(capDrop.value, state.path('cap_drop'))) {
      const capability = text.toUpperCase().replace(/^CAP_/, '');
      if (CAPABILITY.test(capability)) draft.push('cap_drop', capability, at);
      else
        context.note(
          'untranslated',
          at,
          path,
          `"${text}" is not a capability`,
          'write it as NET_RAW or CAP_NET_RAW',
        );
    }
  }
  stop(state);
}

function stop(state: ServiceState): void {
  const { context, draft } = state;
  const stopValue: Record<string, string> = {};
  const signal = state.entry('stop_signal');
  if (signal) {
    const text = context
      .expectText(signal.value, state.path('stop_signal'), 'a signal')
      ?.toUpperCase();
    const name = text?.startsWith('SIG') ? text : `SIG${text}`;
    if ((SIGNALS as readonly string[]).includes(name)) {
      stopValue.signal = name;
      draft.origins.set('stop.signal', signal.value.pos);
    } else if (text !== undefined) {
      context.note(
        'untranslated',
        signal.value.pos,
        state.path('stop_signal'),
        `Flotilla cannot stop a service with ${text}`,
        `it sends one of ${SIGNALS.join(', ')}`,
      );
    }
  }
  const grace = state.entry('stop_grace_period');
  if (grace) {
    const text = context.expectText(grace.value, state.path('stop_grace_period'), 'a duration');
    const ms = text === undefined ? undefined : parseGoDuration(text);
    if (ms !== undefined && ms > 0) {
      stopValue.timeout = formatDuration(ms);
      draft.origins.set('stop.timeout', grace.value.pos);
    } else if (text !== undefined) {
      context.note(
        'untranslated',
        grace.value.pos,
        state.path('stop_grace_period'),
        `"${text}" is not a duration`,
        'write e.g. 30s or 1m30s',
      );
    }
  }
  if (Object.keys(stopValue).length > 0) draft.set('stop', stopValue, (signal ?? grace)!.keyPos);
}
