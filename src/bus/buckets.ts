// The hub creates the buckets and the stream (agents can't): idempotently, and bringing an
// existing one's settings up to date. The KV streams are declared here rather than by
// nats.js's KV creation so that `status` can refuse rollup headers: with them, any agent
// could publish `Nats-Rollup: all` to its own key and wipe every node's status.
import { DiscardPolicy, nanos, RetentionPolicy, StorageType, type StreamConfig } from 'nats';
import type { Bus } from './client.ts';
import {
  DESIRED_BUCKET,
  EVENTS_STREAM,
  EVENTS_SUBJECTS,
  kvStream,
  kvSubject,
  STATUS_BUCKET,
} from './subjects.ts';

const MiB = 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;

function kvConfig(bucket: string, history: number, allowRollup: boolean): Partial<StreamConfig> {
  return {
    name: kvStream(bucket),
    subjects: [kvSubject(bucket, '>')],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs_per_subject: history,
    max_msg_size: MiB,
    discard: DiscardPolicy.New,
    allow_direct: true,
    allow_rollup_hdrs: allowRollup,
    deny_delete: true,
    num_replicas: 1,
  };
}

function busStreamConfigs(): Partial<StreamConfig>[] {
  return [
    // Revisions of each node's desired state, to see what changed and to roll back.
    kvConfig(DESIRED_BUCKET, 5, true),
    // No TTL: a stale entry is judged by the timestamp inside it, so a dead node stays visible.
    kvConfig(STATUS_BUCKET, 1, false),
    {
      name: EVENTS_STREAM,
      subjects: [EVENTS_SUBJECTS],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(90 * DAY_MS),
      max_bytes: 256 * MiB,
      max_msg_size: 64 * 1024,
      discard: DiscardPolicy.Old,
      // It is the audit log: nobody edits it; old entries only age out.
      deny_delete: true,
      deny_purge: true,
      allow_rollup_hdrs: false,
      num_replicas: 1,
    },
  ];
}

export async function ensureBuckets(bus: Bus): Promise<void> {
  const manager = await bus.connection.jetstreamManager();
  for (const config of busStreamConfigs()) {
    const name = config.name!;
    const existing = await manager.streams.info(name).catch((error: Error) => {
      if (error.message === 'stream not found') return undefined;
      throw error;
    });
    if (existing) await manager.streams.update(name, { ...existing.config, ...config });
    else await manager.streams.add(config);
  }
}
