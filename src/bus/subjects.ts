// Every name on the bus in one place: buckets, streams, keys and subjects. Permissions
// (permissions.ts) are built from the same helpers, so a renamed key can't silently fall
// outside what a node is allowed to touch.

/** Node ids become subject tokens and KV keys: the stack file's node-name rule, enforced again. */
const NODE_ID = /^[a-z][a-z0-9-]{0,62}$/;

export const DESIRED_BUCKET = 'desired';
export const STATUS_BUCKET = 'status';
export const EVENTS_STREAM = 'events';

/** The stream behind a KV bucket (nats.js and nats-server naming convention). */
export function kvStream(bucket: string): string {
  return `KV_${bucket}`;
}

/** The subject a KV key is stored under. */
export function kvSubject(bucket: string, key: string): string {
  return `$KV.${bucket}.${key}`;
}

export function assertNodeId(node: string): string {
  if (!NODE_ID.test(node)) throw new Error(`invalid node id "${node}"`);
  return node;
}

/** `desired` key holding a node's DesiredNode. */
export function desiredKey(node: string): string {
  return `node.${assertNodeId(node)}`;
}

/** `desired` key holding a gateway node's Caddy config. */
export function caddyKey(node: string): string {
  return `caddy.${assertNodeId(node)}`;
}

/** `status` key an agent reports its node under. */
export function statusKey(node: string): string {
  return `node.${assertNodeId(node)}`;
}

/** Watching this in `status` sees every node. */
export const ALL_NODES = 'node.>';

export const EVENTS_SUBJECTS = 'flotilla.events.>';

/** Who published an event is part of its subject, so a node can't pass for the hub or another node. */
export function eventSubject(origin: EventOrigin): string {
  return origin === 'hub'
    ? 'flotilla.events.hub'
    : `flotilla.events.node.${assertNodeId(origin.node)}`;
}

export type EventOrigin = 'hub' | { node: string };

export function eventOrigin(subject: string): EventOrigin | undefined {
  if (subject === 'flotilla.events.hub') return 'hub';
  const match = /^flotilla\.events\.node\.([^.]+)$/.exec(subject);
  return match?.[1] === undefined ? undefined : { node: match[1] };
}

/** Interactive requests to a node's agent: `flotilla.node.<id>.<verb>`. */
export function nodeRequestSubject(node: string, verb: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(verb)) throw new Error(`invalid request verb "${verb}"`);
  return `${nodeRequestPrefix(node)}.${verb}`;
}

export function nodeRequestPrefix(node: string): string {
  return `flotilla.node.${assertNodeId(node)}`;
}

/**
 * Each agent gets its own inbox prefix so it may subscribe only to its own replies:
 * with the shared `_INBOX.>` any node could read every other node's KV reads and watches.
 */
export function agentInboxPrefix(node: string): string {
  return `_INBOX_${assertNodeId(node)}`;
}
