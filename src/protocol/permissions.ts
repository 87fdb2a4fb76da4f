// Per-user subject permissions, as nats-server enforces them. An agent may publish only on
// its own `flotilla.hub.*.<id>` subjects and subscribe only to what the hub sends it: no
// JetStream API at all, no inbox, no `allow_responses` (whose reply map nats-server 2.9
// rescans on every delivery once it is large). Nothing an agent can publish is stored by a
// stream or answered by anyone, so it cannot make the server write on its behalf.
import {
  ALL_NODE_INBOXES,
  BUNDLES_STORE,
  objectStoreSubjects,
  RELEASES_BUCKET,
  DESIRED_BUCKET,
  MONITORS_BUCKET,
  EVENTS_SUBJECTS,
  fromNode,
  HUB_INBOX,
  kvSubject,
  nodeInbox,
  repliesFrom,
} from './subjects.ts';

export interface Permissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
}

export function hubPermissions(): Permissions {
  return {
    publish: {
      allow: [
        // JetStream for its own bucket and the events stream (requests, acks, flow control).
        '$JS.API.>',
        '$JS.ACK.>',
        '$JS.FC.>',
        kvSubject(DESIRED_BUCKET, '>'),
        kvSubject(RELEASES_BUCKET, '>'),
        kvSubject(MONITORS_BUCKET, '>'),
        objectStoreSubjects(BUNDLES_STORE),
        EVENTS_SUBJECTS,
        ALL_NODE_INBOXES,
      ],
    },
    subscribe: {
      allow: ['_INBOX.>', HUB_INBOX],
    },
  };
}

export function agentPermissions(node: string): Permissions {
  return {
    publish: {
      allow: [
        fromNode('status', node),
        fromNode('heartbeat', node),
        fromNode('event', node),
        fromNode('metrics', node),
        repliesFrom(node),
      ],
    },
    subscribe: { allow: [nodeInbox(node)] },
  };
}
