// The hub's release records on the bus: each service's releases (KV `releases`, key
// `service.<name>`), the deploy lock (`lock`), the stack's deploys for `rollback --stack`
// (`stack`), and the bundles themselves (object store `bundles`, by sha256). Only the hub
// touches any of it; agents get bundles pushed over their signed requests.
import { StorageType, type KV, type ObjectStore } from 'nats';
import { z } from 'zod';
import type { Bus } from './client.ts';
import { decodeJson, encodeJson } from './codec.ts';
import { BUNDLES_STORE, RELEASES_BUCKET } from '../protocol/subjects.ts';
import { serviceReleasesSchema, type ServiceReleases } from '../release/release-record.ts';

const MiB = 1024 * 1024;
/** Room for a few services' kept releases at the bundle size limit. */
const BUNDLES_MAX_BYTES = 512 * MiB;

export const deployLockSchema = z.object({
  /** `user@host` of the CLI, or `webhook:<forge>`. */
  holder: z.string(),
  /** What it is doing, e.g. "deploy api 7". */
  message: z.string(),
  since: z.number().int(),
});
export type DeployLock = z.infer<typeof deployLockSchema>;

/** A stack-wide deploy: every deployed service's release right after it. */
export const stackDeploySchema = z.object({
  at: z.number().int(),
  releases: z.record(z.string(), z.number().int().nonnegative()),
});
export type StackDeploy = z.infer<typeof stackDeploySchema>;
const stackDeploysSchema = z.array(stackDeploySchema);

/** Kept stack deploys: `rollback --stack` goes back one at a time, this far. */
const STACK_DEPLOYS_KEPT = 20;
const LOCK_KEY = 'lock';
const STACK_KEY = 'stack';
const SERVICE_PREFIX = 'service.';

export class ReleaseStore {
  private constructor(
    private readonly kv: KV,
    private readonly bundles: ObjectStore,
  ) {}

  static async open(bus: Bus): Promise<ReleaseStore> {
    const js = bus.connection.jetstream({ checkAPI: false });
    const kv = await js.views.kv(RELEASES_BUCKET, { bindOnly: true });
    const bundles = await js.views.os(BUNDLES_STORE, {
      storage: StorageType.File,
      max_bytes: BUNDLES_MAX_BYTES,
      description: 'Flotilla release bundles, by sha256',
    });
    return new ReleaseStore(kv, bundles);
  }

  async services(): Promise<Map<string, ServiceReleases>> {
    const result = new Map<string, ServiceReleases>();
    const keys = await this.kv.keys(`${SERVICE_PREFIX}*`);
    for await (const key of keys) {
      const entry = await this.kv.get(key);
      if (entry?.operation !== 'PUT') continue;
      result.set(key.slice(SERVICE_PREFIX.length), decodeJson(entry.value, serviceReleasesSchema));
    }
    return result;
  }

  async saveService(service: string, state: ServiceReleases): Promise<void> {
    await this.kv.put(`${SERVICE_PREFIX}${service}`, encodeJson(state));
  }

  async lock(): Promise<{ lock: DeployLock | undefined; revision: number }> {
    const entry = await this.kv.get(LOCK_KEY);
    if (!entry) return { lock: undefined, revision: 0 };
    if (entry.operation !== 'PUT' || entry.value.length === 0)
      return { lock: undefined, revision: entry.revision };
    try {
      return { lock: decodeJson(entry.value, deployLockSchema), revision: entry.revision };
    } catch {
      // Not a lock anyone could have written: taking it over (at this revision) repairs it.
      return { lock: undefined, revision: entry.revision };
    }
  }

  /** Takes the lock if it is still at `revision` (what `lock()` read); false if someone else did. */
  async takeLock(lock: DeployLock, revision: number): Promise<boolean> {
    try {
      await this.kv.put(LOCK_KEY, encodeJson(lock), { previousSeq: revision });
      return true;
    } catch {
      return false;
    }
  }

  /** Releases the lock: an empty value (the bucket denies deletes; an empty lock is none). */
  async releaseLock(): Promise<void> {
    await this.kv.put(LOCK_KEY, new Uint8Array());
  }

  async stackDeploys(): Promise<StackDeploy[]> {
    const entry = await this.kv.get(STACK_KEY);
    if (entry?.operation !== 'PUT') return [];
    return decodeJson(entry.value, stackDeploysSchema);
  }

  async addStackDeploy(deploy: StackDeploy): Promise<void> {
    const deploys = [...(await this.stackDeploys()), deploy].slice(-STACK_DEPLOYS_KEPT);
    await this.kv.put(STACK_KEY, encodeJson(deploys));
  }

  async hasBundle(sha256: string): Promise<boolean> {
    const info = await this.bundles.info(sha256);
    return info !== null && !info.deleted;
  }

  async putBundle(sha256: string, data: Uint8Array): Promise<void> {
    await this.bundles.putBlob({ name: sha256 }, data);
  }

  async bundle(sha256: string): Promise<Uint8Array | null> {
    return this.bundles.getBlob(sha256);
  }

  async deleteBundle(sha256: string): Promise<void> {
    await this.bundles.delete(sha256).catch(() => undefined);
  }
}
