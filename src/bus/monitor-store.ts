// Each monitor's state and statistics on the bus (KV `monitors`, one key per monitor, hub
// only), so a restarted hub continues an incident instead of announcing it again and keeps
// 30 days of uptime: JetStream with limits, no database of its own.
import type { KV } from 'nats';
import type { Bus } from './client.ts';
import { anyJson, decodeJson, encodeJson } from './codec.ts';
import { MONITORS_BUCKET } from '../protocol/subjects.ts';

/** Monitor names hold `:` and `/`, which KV keys cannot: base64url can. */
function keyOf(monitor: string): string {
  return `m.${Buffer.from(monitor, 'utf8').toString('base64url')}`;
}

function monitorOf(key: string): string {
  return Buffer.from(key.slice(2), 'base64url').toString('utf8');
}

export class MonitorStore {
  private constructor(private readonly kv: KV) {}

  static async open(bus: Bus): Promise<MonitorStore> {
    const js = bus.connection.jetstream({ checkAPI: false });
    return new MonitorStore(await js.views.kv(MONITORS_BUCKET, { bindOnly: true }));
  }

  /** Every stored monitor's value, unparsed: the monitoring service validates it. */
  async loadAll(): Promise<Map<string, unknown>> {
    const result = new Map<string, unknown>();
    for await (const key of await this.kv.keys('m.*')) {
      const entry = await this.kv.get(key);
      if (entry?.operation !== 'PUT') continue;
      try {
        result.set(monitorOf(key), decodeJson(entry.value, anyJson));
      } catch {
        // A damaged value: that monitor starts afresh.
      }
    }
    return result;
  }

  async save(monitor: string, value: unknown): Promise<void> {
    await this.kv.put(keyOf(monitor), encodeJson(value));
  }

  async remove(monitor: string): Promise<void> {
    await this.kv.purge(keyOf(monitor));
  }
}
