// Every name on the bus in one place: the hub's bucket and stream, and the subjects hub and
// agents talk on. Permissions (permissions.ts) are built from the same helpers, so a renamed
// subject can't silently fall outside what a node is allowed to touch.
//
// Agents never touch JetStream. Any JetStream call is a request whose reply subject the
// caller picks, and JetStream publishes its answer there as the server itself: a node could
// name `$KV.desired.node.<other>` and have JetStream store the answer as another node's
// desired state. So agents speak plain NATS on subjects of their own, and only the hub,
// which never answers to a subject a node chose, writes to JetStream.
//
//   hub → node   flotilla.node.<id>.<kind>     desired | gateway | directory | request (signed)
//   node → hub   flotilla.hub.<kind>.<id>      status | heartbeat | event | metrics
//                flotilla.hub.reply.<id>.<n>   the answer to the hub's request n

/** Node ids become subject tokens and KV keys: the stack file's node-name rule, enforced again. */
const NODE_ID = /^[a-z][a-z0-9-]{0,62}$/;

export const DESIRED_BUCKET = 'desired';
/** Each deployed service's releases, the deploy lock and the stack's deploys (hub only). */
export const RELEASES_BUCKET = 'releases';
/** Each monitor's state and figures, one key per monitor (hub only). */
export const MONITORS_BUCKET = 'monitors';
/** The object store of release bundles, by sha256 (hub only). */
export const BUNDLES_STORE = 'bundles';

/** Every subject of an object store's chunks and metadata (nats.js convention). */
export function objectStoreSubjects(store: string): string {
  return `$O.${store}.>`;
}
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

/** What the hub sends a node; each kind is signed for that node (signing.ts). */
export type ToNodeKind = 'desired' | 'gateway' | 'directory' | 'request';

/** What a node sends the hub; the node is the subject's last token, never a field of the value. */
export type FromNodeKind = 'status' | 'heartbeat' | 'event' | 'metrics';

/** The hub's record of what it last sent a node, one key per kind, in the `desired` bucket. */
export function recordKey(kind: Exclude<ToNodeKind, 'request'>, node: string): string {
  return `${kind}.${assertNodeId(node)}`;
}

export function toNode(node: string, kind: ToNodeKind): string {
  return `flotilla.node.${assertNodeId(node)}.${kind}`;
}

/** Everything the hub sends any node: only the hub may publish here. */
export const ALL_NODE_INBOXES = 'flotilla.node.>';

/** Everything the hub sends one node: what that node's agent subscribes to. */
export function nodeInbox(node: string): string {
  return `flotilla.node.${assertNodeId(node)}.>`;
}

export function fromNode(kind: FromNodeKind, node: string): string {
  return `flotilla.hub.${kind}.${assertNodeId(node)}`;
}

/** Everything nodes send the hub: only the hub may subscribe here. */
export const HUB_INBOX = 'flotilla.hub.>';

/** What the hub subscribes to for one kind, from every node. */
export function fromAnyNode(kind: FromNodeKind): string {
  return `flotilla.hub.${kind}.*`;
}

/** The node a `fromNode` subject came from, if it is one of that kind. */
export function senderOf(kind: FromNodeKind, subject: string): string | undefined {
  const prefix = `flotilla.hub.${kind}.`;
  if (!subject.startsWith(prefix)) return undefined;
  const node = subject.slice(prefix.length);
  return NODE_ID.test(node) ? node : undefined;
}

const REPLY_PREFIX = 'flotilla.hub.reply';
const REQUEST_ID = /^[A-Za-z0-9_-]{8,64}$/;

/** Where a node answers the hub's request `id`: chosen by the agent from the signed request. */
export function replySubject(node: string, id: string): string {
  if (!REQUEST_ID.test(id)) throw new Error(`invalid request id "${id}"`);
  return `${REPLY_PREFIX}.${assertNodeId(node)}.${id}`;
}

/** Every reply one node may send: its agent's only publish permission besides its reports. */
export function repliesFrom(node: string): string {
  return `${REPLY_PREFIX}.${assertNodeId(node)}.*`;
}

export const ALL_REPLIES = `${REPLY_PREFIX}.*.*`;

/** The node and request id of a reply subject. */
export function replyOf(subject: string): { node: string; id: string } | undefined {
  const match = /^flotilla\.hub\.reply\.([^.]+)\.([^.]+)$/.exec(subject);
  if (!match || !NODE_ID.test(match[1]!) || !REQUEST_ID.test(match[2]!)) return undefined;
  return { node: match[1]!, id: match[2]! };
}

export const EVENTS_SUBJECTS = 'flotilla.events.>';

/** Who an event is about is part of its subject; only the hub writes the stream. */
export function eventSubject(origin: EventOrigin): string {
  return origin === 'hub'
    ? 'flotilla.events.hub'
    : `flotilla.events.node.${assertNodeId(origin.node)}`;
}

export type EventOrigin = 'hub' | { node: string };

export function eventOrigin(subject: string): EventOrigin | undefined {
  if (subject === 'flotilla.events.hub') return 'hub';
  const match = /^flotilla\.events\.node\.([^.]+)$/.exec(subject);
  return match?.[1] === undefined || !NODE_ID.test(match[1]) ? undefined : { node: match[1] };
}
