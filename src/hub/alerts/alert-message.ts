// One alert, as every channel delivers it: what happened to which monitor of which stack,
// and its title and plain-text body. Rendering lives here, once, so an email, a phone
// notification and a chat message say the same thing. A message is built from monitor
// state only; it never holds channel configuration, so no secret can reach a body.

export type AlertKind = 'down' | 'up' | 'reminder' | 'flapping' | 'event' | 'test';

export interface AlertMessage {
  kind: AlertKind;
  stack: string;
  /** "route:api.example.com/", "instance:api-1", "node:db", "backup:nightly", or a declared monitor's name. */
  monitor?: string;
  /** Human text: "https://api.example.com/ answers HTTP 502". */
  what: string;
  node?: string;
  service?: string;
  route?: string;
  /** The last error text of the failing check. */
  error?: string;
  /** When the incident started (ms since the epoch). */
  since?: number;
  /** A recovery: how long the monitor was down. */
  durationMs?: number;
  /** When the message was made (ms since the epoch). */
  at: number;
}

const LABEL: Record<AlertKind, string> = {
  down: 'DOWN',
  up: 'UP',
  reminder: 'STILL DOWN',
  flapping: 'FLAPPING',
  event: 'EVENT',
  test: 'TEST',
};

const UNITS: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** 252_000 → "4m 12s", 3_600_000 → "1h", 90_061_000 → "1d 1h": the two largest units. */
export function formatElapsed(ms: number): string {
  const largest = UNITS.findIndex(([, size]) => ms >= size);
  if (largest === -1) return 'under a second';
  const [[unit, size], next] = [UNITS[largest]!, UNITS[largest + 1]];
  const text = `${Math.floor(ms / size)}${unit}`;
  const rest = next === undefined ? 0 : Math.floor((ms % size) / next[1]);
  return rest === 0 ? text : `${text} ${rest}${next![0]}`;
}

/** 2026-12-01 02:57:20 UTC: the same whatever the hub's time zone. */
function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Titles become email subjects and notification headers: one line. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** What the alert is about, most specific first. */
function subject(message: AlertMessage): string {
  return message.monitor ?? message.route ?? message.service ?? message.node ?? message.what;
}

/** "[shop] DOWN route:api.example.com/", "[shop] UP route:api.example.com/ after 4m 12s". */
export function renderTitle(message: AlertMessage): string {
  const after =
    message.kind === 'up' && message.durationMs !== undefined
      ? ` after ${formatElapsed(message.durationMs)}`
      : '';
  return oneLine(`[${message.stack}] ${LABEL[message.kind]} ${subject(message)}${after}`);
}

/** The incident's timing, as the kind of message needs it. */
function timing(message: AlertMessage): string | undefined {
  const { kind, since, durationMs, at } = message;
  if (kind === 'up' && durationMs !== undefined)
    return `Down for ${formatElapsed(durationMs)}${since === undefined ? '' : `, since ${formatTime(since)}`}.`;
  if (since === undefined) return undefined;
  if (kind === 'reminder')
    return `Still down, since ${formatTime(since)} (${formatElapsed(at - since)}).`;
  return `Since ${formatTime(since)}.`;
}

/**
 * The plain-text body: what happened, the incident's timing, then each known fact on a line
 * of its own (stack, node, service, route, monitor, last error, time).
 */
export function renderText(message: AlertMessage): string {
  const facts: [string, string | undefined][] = [
    ['Stack', message.stack],
    ['Node', message.node],
    ['Service', message.service],
    ['Route', message.route],
    ['Monitor', message.monitor],
    ['Last error', message.error],
    ['Time', formatTime(message.at)],
  ];
  return [
    message.what,
    timing(message),
    '',
    ...facts.filter(([, value]) => value !== undefined).map(([key, value]) => `${key}: ${value}`),
  ]
    .filter((line) => line !== undefined)
    .join('\n');
}
