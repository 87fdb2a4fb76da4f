// Per-user subject permissions. The hub may do anything in Flotilla's subject space; an
// agent may touch only its own keys. KV operations are plain subjects underneath, so each
// allowed operation is spelled out as the exact subject the nats.js KV client uses:
//
//   read a key      $JS.API.DIRECT.GET.<stream>.$KV.<bucket>.<key>   (last value by subject;
//                   the subject carries the key, so permissions can check it — unlike
//                   $JS.API.STREAM.MSG.GET, whose payload names any message in the stream)
//   watch a key     $JS.API.CONSUMER.CREATE.<stream>.<name>.$KV.<bucket>.<key>  (the server
//                   rejects a config whose filter differs from the one in the subject)
//   write a key     $KV.<bucket>.<key>
//   replies         the agent's own inbox prefix, never the shared _INBOX.>
import {
  agentInboxPrefix,
  caddyKey,
  DESIRED_BUCKET,
  desiredKey,
  eventSubject,
  kvStream,
  kvSubject,
  nodeRequestPrefix,
  STATUS_BUCKET,
  statusKey,
} from './subjects.ts';

export interface Permissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
  /** Lets a responder publish to the reply subject of a request it received, and nowhere else. */
  allow_responses?: { max: number; expires: string };
}

export function hubPermissions(): Permissions {
  return {
    publish: {
      allow: ['$JS.API.>', '$JS.FC.>', '$JS.ACK.>', '$KV.>', '$O.>', 'flotilla.>', '_INBOX.>'],
    },
    subscribe: { allow: ['_INBOX.>', 'flotilla.>'] },
  };
}

function readKey(bucket: string, key: string): string[] {
  const stream = kvStream(bucket);
  const subject = kvSubject(bucket, key);
  return [
    `$JS.API.DIRECT.GET.${stream}.${subject}`,
    `$JS.API.CONSUMER.CREATE.${stream}.*.${subject}`,
  ];
}

export function agentPermissions(node: string): Permissions {
  return {
    publish: {
      allow: [
        ...readKey(DESIRED_BUCKET, desiredKey(node)),
        ...readKey(DESIRED_BUCKET, caddyKey(node)),
        // Every agent may read every node's status: it needs to know whether the services
        // it depends on, wherever they run, are healthy.
        ...readKey(STATUS_BUCKET, '>'),
        kvSubject(STATUS_BUCKET, statusKey(node)),
        eventSubject({ node }),
      ],
    },
    subscribe: { allow: [`${agentInboxPrefix(node)}.>`, `${nodeRequestPrefix(node)}.>`] },
    // Replies to the hub's requests (a log tail may take many messages), and flow-control
    // replies for KV watches, which JetStream sends as requests.
    allow_responses: { max: 10_000, expires: '10m' },
  };
}
