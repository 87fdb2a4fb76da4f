// The hub creates its bucket and the events stream: idempotently, and bringing an existing
// one's settings up to date. Only the hub uses JetStream; agents have no access to it.
import { DiscardPolicy, nanos, RetentionPolicy, StorageType, type StreamConfig } from 'nats';
import type { Bus } from './client.ts';
import {
  DESIRED_BUCKET,
  EVENTS_STREAM,
  MONITORS_BUCKET,
  RELEASES_BUCKET,
  EVENTS_SUBJECTS,
  kvStream,
  kvSubject,
} from '../protocol/subjects.ts';
import { MAX_PAYLOAD_BYTES } from './config.ts';

const MiB = 1024 * 1024;
const LEGACY_STATUS_BUCKET = 'status';
const DAY_MS = 24 * 60 * 60 * 1000;

function kvConfig(bucket: string, history: number): Partial<StreamConfig> {
  return {
    name: kvStream(bucket),
    subjects: [kvSubject(bucket, '>')],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs_per_subject: history,
    max_msg_size: MAX_PAYLOAD_BYTES,
    discard: DiscardPolicy.New,
    allow_direct: true,
    // nats.js purges a key with a rollup; only the hub can publish here.
    allow_rollup_hdrs: true,
    deny_delete: true,
    num_replicas: 1,
  };
}

function busStreamConfigs(): Partial<StreamConfig>[] {
  return [
    // What the hub sent each node, a few revisions back, to see what changed and to roll
    // back; its revisions number the signed messages, so they must only ever grow.
    kvConfig(DESIRED_BUCKET, 5),
    // Releases, the deploy lock and the stack's deploys: read back at every hub start.
    kvConfig(RELEASES_BUCKET, 5),
    // Each monitor's state and its 30 days of hourly figures: the latest value only.
    kvConfig(MONITORS_BUCKET, 1),
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
  // Flotilla before 0.2 kept agents' reports in JetStream, where any agent could write.
  await manager.streams.delete(kvStream(LEGACY_STATUS_BUCKET)).catch(() => false);
}
