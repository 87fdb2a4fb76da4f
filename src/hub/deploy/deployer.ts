// Deploys and rollbacks of process services, run by the hub (so a CLI that goes away, or an
// agent that restarts, leaves nothing half done). A deploy: take the stack's deploy lock;
// have every node that runs the service unpack and build the release (the bundle is pushed
// over the node's signed requests when it lacks it); run the release command once; then node
// by node start each instance's new variant beside the old one on the other release slot,
// wait for it to be healthy (a failed gate puts everything back and says why, with the
// instance's last log lines), switch (the old variant drains: the gateway's DNS and the
// node's port redirect send new requests to the new one), let in-flight requests finish,
// stop the old one. Every step is in the audit log (events stream); the releases, the lock
// and the stack's deploys are in the bus (ReleaseStore), read back when the hub starts.
import { hostname, userInfo } from 'node:os';
import type { Bus } from '../../bus/client.ts';
import type { DeployLock, ReleaseStore } from '../../bus/release-store.ts';
import {
  RELEASE_CHUNK_BYTES,
  type PrepareAnswer,
  type ReleaseRunAnswer,
} from '../../protocol/release-requests.ts';
import { otherSlot, slotInstanceId } from '../../plan/release-slots.ts';
import { variantsOf, type StackReleases } from '../../plan/release-variants.ts';
import type { InstanceStatus } from '../../protocol/status.ts';
import {
  emptyServiceReleases,
  releaseNumbered,
  type Release,
  type ServiceReleases,
  type Variant,
} from '../../release/release-record.ts';
import { parseDuration } from '../../spec/formats.ts';
import type { Service } from '../../spec/schema.ts';
import type { Hub } from '../hub.ts';
import { DeployError } from './deploy-error.ts';

const BUILD_REQUEST_TIMEOUT_MS = 16 * 60_000;
const CHUNK_REQUEST_TIMEOUT_MS = 30_000;
/** A new instance that crashed this often is not going to pass its gate. */
const GATE_MAX_RESTARTS = 2;
/** How long a node may take to act on a desired state that changes no instance (a switch). */
const CONVERGE_TIMEOUT_MS = 30_000;
const POLL_MS = 100;

export type Progress = (line: string) => void;

export interface DeployOptions {
  /** `user@host`, or `webhook:<forge>`. */
  by: string;
  message?: string;
  /** Take the lock even though someone holds it; the reason goes in the audit log. */
  force?: string;
  kind?: 'deploy' | 'rollback';
}

export interface DeployResult {
  service: string;
  from: number;
  to: number;
  duration_ms: number;
  nodes: string[];
}

/** The caller of the CLI: who a release or deploy is attributed to. */
export function localIdentity(): string {
  return `${userInfo().username}@${hostname()}`;
}

export class Deployer {
  private readonly services = new Map<string, ServiceReleases>();
  /** The deploy this hub is running now, if any. */
  private active = false;
  /** Preparations under way, by node and bundle: one push of a bundle to a node at a time. */
  private readonly preparing = new Map<string, Promise<void>>();

  constructor(
    private readonly hub: Hub,
    private readonly store: ReleaseStore,
    private readonly bus: Bus,
    private readonly log: (line: string) => void,
  ) {}

  /** What the hub plans with: each deployed service's releases and variants. */
  releases(): StackReleases {
    return this.services;
  }

  state(service: string): ServiceReleases {
    return this.services.get(service) ?? emptyServiceReleases();
  }

  /**
   * Reads the releases back. A deploy the hub did not finish (it stopped mid-way) is settled
   * per instance: switched instances keep the new release, the others the old; the lock goes.
   */
  async load(): Promise<void> {
    for (const [service, state] of await this.store.services()) {
      const settled = settleVariants(state);
      this.services.set(service, settled.state);
      if (settled.changed) {
        await this.store.saveService(service, settled.state);
        await this.audit(
          'deploy.interrupted',
          `a deploy of ${service} was interrupted (the hub stopped): each instance keeps the release it served`,
          service,
          {
            variants: settled.state.variants,
          },
        );
      }
    }
    const { lock } = await this.store.lock();
    if (lock) {
      await this.store.releaseLock();
      await this.audit(
        'deploy.unlocked',
        `released the deploy lock of "${lock.message}" (${lock.holder}): the hub restarted`,
        undefined,
        { lock },
      );
    }
  }

  /** Files a bundle as a release of `service` (the same bundle again is the same release). */
  async addRelease(
    service: string,
    bundle: { sha256: string; bytes: number; files: number; data: Uint8Array },
    meta: Pick<Release, 'source' | 'by' | 'message'>,
  ): Promise<{ release: Release; existing: boolean }> {
    this.deployable(service);
    const state = this.state(service);
    const existing = state.releases.find((release) => release.sha256 === bundle.sha256);
    if (existing) return { release: existing, existing: true };
    if (!(await this.store.hasBundle(bundle.sha256)))
      await this.store.putBundle(bundle.sha256, bundle.data);
    const release: Release = {
      number: state.last_number + 1,
      sha256: bundle.sha256,
      bytes: bundle.bytes,
      files: bundle.files,
      created_at: Date.now(),
      ...meta,
      ...(meta.message === undefined ? {} : { message: meta.message }),
    };
    const next = { ...state, releases: [...state.releases, release], last_number: release.number };
    await this.save(service, next);
    await this.audit(
      'release.added',
      `${service} release ${release.number} (${release.sha256.slice(0, 12)}) from ${describeSource(release)} by ${release.by}`,
      service,
      { release: release.number },
    );
    return { release, existing: false };
  }

  /** Deploys release `number` (default: the newest) of `service`; resolves when it is live. */
  async deploy(
    service: string,
    number: number | undefined,
    options: DeployOptions,
    progress: Progress = () => {},
  ): Promise<DeployResult> {
    const definition = this.deployable(service);
    const state = this.state(service);
    const release = number === undefined ? state.releases.at(-1) : releaseNumbered(state, number);
    if (!release)
      throw new DeployError(
        'check',
        number === undefined
          ? `${service} has no release yet`
          : `${service} has no release ${number} (kept: ${state.releases.map((kept) => kept.number).join(', ') || 'none'})`,
        { status: 404, hint: `flotilla deploy ${service} --from DIR uploads one` },
      );
    const kind = options.kind ?? 'deploy';
    const serving = (this.hub.plan?.placement ?? [])
      .filter((instance) => instance.service === service)
      .every((instance) =>
        variantsOf(service, instance.instance, this.services).every(
          (variant) => variant.release === release.number,
        ),
      );
    if (serving && state.current === release.number)
      throw new DeployError('check', `release ${release.number} of ${service} is already live`, {
        status: 409,
        hint: 'change something and deploy again, or flotilla rollback to go back',
      });
    const what = `${kind} ${service} ${release.number}`;
    await this.lock({ holder: options.by, message: what, since: Date.now() }, options.force);
    this.active = true;
    try {
      return await this.run(service, definition, release, options, progress);
    } finally {
      this.active = false;
      await this.store.releaseLock().catch(() => undefined);
    }
  }

  /** The release before the current one (or `number`), deployed. */
  async rollback(
    service: string,
    number: number | undefined,
    options: DeployOptions,
    progress?: Progress,
  ): Promise<DeployResult> {
    const state = this.state(service);
    const target = number ?? state.previous;
    if (target === undefined)
      throw new DeployError(
        'check',
        `${service} has no release before ${state.current === undefined ? 'its first deploy' : `release ${state.current}`} to roll back to`,
        {
          status: 404,
          hint: `flotilla releases ${service} lists what is kept`,
        },
      );
    return this.deploy(service, target, { ...options, kind: 'rollback' }, progress);
  }

  /** Every service back to its release of the stack's previous deploy. */
  async rollbackStack(
    options: DeployOptions,
    progress: Progress = () => {},
  ): Promise<DeployResult[]> {
    const deploys = await this.store.stackDeploys();
    const previous = deploys.at(-2);
    if (!previous)
      throw new DeployError('check', 'there is no earlier stack deploy to roll back to', {
        status: 404,
      });
    const results: DeployResult[] = [];
    for (const [service, number] of Object.entries(previous.releases)) {
      if (
        number === 0 ||
        this.state(service).current === number ||
        !this.hub.stack?.services[service]
      )
        continue;
      progress(`${service}: back to release ${number}`);
      results.push(await this.deploy(service, number, { ...options, kind: 'rollback' }, progress));
    }
    return results;
  }

  async currentLock(): Promise<DeployLock | undefined> {
    return (await this.store.lock()).lock;
  }

  /**
   * Makes sure every node runs with the releases its instances need (a node that joined, or
   * a replica added, after the deploy): pushed and built in the background.
   */
  prepareEverywhere(): void {
    const stack = this.hub.stack;
    const plan = this.hub.plan;
    if (!stack || !plan) return;
    for (const [node, desired] of Object.entries(plan.desired)) {
      // Replicas of a service on one node share their release directory.
      const asked = new Set<string>();
      for (const instance of desired.instances) {
        if (!instance.release || asked.has(instance.release.sha256)) continue;
        asked.add(instance.release.sha256);
        const release = releaseNumbered(this.state(instance.service), instance.release.number);
        const service = stack.services[instance.service];
        if (!release || !service) continue;
        void this.prepare(node, instance.service, service, release).catch((error: Error) =>
          this.log(`release ${release.number} of ${instance.service} on ${node}: ${error.message}`),
        );
      }
    }
  }

  /** The service's definition; refused (DeployError) unless it is a process with `deploy:`. */
  deployable(service: string): Service {
    const definition = this.hub.stack?.services[service];
    if (!definition)
      throw new DeployError('check', `no service named ${service} in the stack`, { status: 404 });
    if (!definition.run || !definition.deploy)
      throw new DeployError('check', `${service} has no \`deploy:\` section`, {
        status: 400,
        hint: definition.run
          ? `add \`deploy: {}\` (or build, release_command…) to ${service} in the stack file and run flotilla apply`
          : 'an image service gets a new release by a new `image` tag or digest and flotilla apply',
      });
    return definition;
  }

  private async lock(lock: DeployLock, force: string | undefined): Promise<void> {
    const { lock: held, revision } = await this.store.lock();
    // A lock whose deploy runs in this hub is never taken over: two deploys would fight over
    // the same instances. --force is for a lock nobody works under any more.
    if (held && this.active)
      throw new DeployError(
        'lock',
        `deploys are locked by ${held.holder} since ${new Date(held.since).toISOString()}: ${held.message}, which is running now`,
        {
          status: 409,
          hint: 'wait for it to finish (flotilla history shows how it went); --force takes only a lock whose deploy stopped',
        },
      );
    if (held && force === undefined)
      throw new DeployError(
        'lock',
        `deploys are locked by ${held.holder} since ${new Date(held.since).toISOString()}: ${held.message}`,
        {
          status: 409,
          hint: 'wait for it to finish, or take the lock with --force "<reason>"',
        },
      );
    if (held)
      await this.audit(
        'deploy.lock-forced',
        `${lock.holder} took the deploy lock from ${held.holder} (${held.message}): ${force}`,
        undefined,
        { held, reason: force },
      );
    if (!(await this.store.takeLock(lock, revision)))
      throw new DeployError('lock', 'another deploy took the lock just now', {
        status: 409,
        hint: 'try again once it is done',
      });
  }

  private async run(
    service: string,
    definition: Service,
    release: Release,
    options: DeployOptions,
    progress: Progress,
  ): Promise<DeployResult> {
    const started = Date.now();
    const before = this.state(service);
    const from = before.current ?? 0;
    const kind = options.kind ?? 'deploy';
    const placement = (this.hub.plan?.placement ?? []).filter(
      (instance) => instance.service === service,
    );
    const nodes = [...new Set(placement.map((instance) => instance.node))];
    await this.audit(
      `${kind}.started`,
      `${kind} of ${service}: release ${from} → ${release.number} by ${options.by}${options.message ? `: ${options.message}` : ''}`,
      service,
      { from, to: release.number, by: options.by },
    );
    try {
      progress(
        `release ${release.number} (${release.sha256.slice(0, 12)}, ${release.files} files) on ${nodes.join(', ') || 'no node'}`,
      );
      await Promise.all(
        nodes.map((node) => this.prepare(node, service, definition, release, progress)),
      );
      if (definition.deploy!.release_command)
        await this.releaseCommand(service, definition, release, nodes[0], progress);
      for (const node of nodes) await this.cutOver(service, definition, release, node, progress);
      const kept = keepReleases(
        this.state(service),
        [release.number, from],
        definition.deploy!.keep,
      );
      await this.save(service, {
        ...kept.state,
        current: release.number,
        ...(from > 0 && { previous: from }),
      });
      for (const pruned of kept.pruned) await this.store.deleteBundle(pruned.sha256);
      await this.store.addStackDeploy({
        at: Date.now(),
        releases: Object.fromEntries(
          [...this.services].map(([name, state]) => [name, state.current ?? 0]),
        ),
      });
      const result: DeployResult = {
        service,
        from,
        to: release.number,
        duration_ms: Date.now() - started,
        nodes,
      };
      await this.audit(
        `${kind}.succeeded`,
        `${kind} of ${service}: release ${release.number} is live on ${nodes.length} node${nodes.length === 1 ? '' : 's'} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
        service,
        { ...result, by: options.by },
      );
      return result;
    } catch (error) {
      const failure =
        error instanceof DeployError
          ? error
          : new DeployError('health gate', (error as Error).message);
      await this.audit(
        `${kind}.failed`,
        `${kind} of ${service} to release ${release.number} failed at ${failure.step}: ${failure.message}`,
        service,
        {
          from,
          to: release.number,
          step: failure.step,
          node: failure.details.node,
          instance: failure.details.instance,
          duration_ms: Date.now() - started,
          by: options.by,
        },
      );
      throw failure;
    }
  }

  /** Unpacks and builds `release` on `node`, pushing the bundle first if the node lacks it. */
  private prepare(
    node: string,
    service: string,
    definition: Service,
    release: Release,
    progress: Progress = () => {},
  ): Promise<void> {
    const key = `${node}\0${release.sha256}`;
    let preparing = this.preparing.get(key);
    if (!preparing) {
      preparing = this.prepareNow(node, service, definition, release, progress).finally(() =>
        this.preparing.delete(key),
      );
      this.preparing.set(key, preparing);
    }
    return preparing;
  }

  private async prepareNow(
    node: string,
    service: string,
    definition: Service,
    release: Release,
    progress: Progress,
  ): Promise<void> {
    const state = this.state(service);
    const request = {
      service,
      sha256: release.sha256,
      bytes: release.bytes,
      ...(definition.deploy?.build && { build: definition.deploy.build }),
      ...(definition.run?.user !== undefined && { user: definition.run.user }),
      keep: state.releases.map((kept) => kept.sha256),
    };
    const ask = () =>
      this.hub.request(
        node,
        'release.prepare',
        request,
        BUILD_REQUEST_TIMEOUT_MS,
      ) as Promise<PrepareAnswer>;
    let answer = await ask();
    if (!answer.ready && 'have' in answer) {
      progress(`${node}: sending the bundle (${release.bytes} bytes)`);
      await this.push(node, release);
      if (definition.deploy?.build)
        progress(`${node}: building (${definition.deploy.build.join(' ')})`);
      answer = await ask();
    }
    if (answer.ready) return;
    throw new DeployError(
      'build',
      'error' in answer ? answer.error : `the bundle did not arrive complete on ${node}`,
      {
        node,
        ...('output' in answer && { output: answer.output }),
        hint: 'fix the build and deploy again: nothing was switched',
      },
    );
  }

  private async push(node: string, release: Release): Promise<void> {
    const data = await this.store.bundle(release.sha256);
    if (!data)
      throw new DeployError(
        'build',
        `the bundle of release ${release.number} is missing from the bus`,
        { hint: 'upload it again with flotilla deploy --from' },
      );
    for (let offset = 0; offset < data.length; offset += RELEASE_CHUNK_BYTES) {
      const chunk = Buffer.from(data.subarray(offset, offset + RELEASE_CHUNK_BYTES)).toString(
        'base64',
      );
      await this.hub.request(
        node,
        'release.chunk',
        { sha256: release.sha256, offset, data: chunk },
        CHUNK_REQUEST_TIMEOUT_MS,
      );
    }
  }

  /** The release command, once, on the first node, as an instance of the new release. */
  private async releaseCommand(
    service: string,
    definition: Service,
    release: Release,
    node: string | undefined,
    progress: Progress,
  ): Promise<void> {
    const command = definition.deploy!.release_command!;
    const first = (this.hub.plan?.placement ?? []).find(
      (instance) => instance.service === service && instance.node === node,
    );
    if (!first || node === undefined) return;
    const id = first.instance;
    const trial = withVariants(this.state(service), {
      [id]: [{ release: release.number, slot: 'a' }],
    });
    const desired = this.hub.desiredWith(new Map([...this.services, [service, trial]]));
    const instance = desired?.[node]?.instances.find(
      (candidate) => candidate.id === slotInstanceId(id, 'a'),
    );
    if (!instance)
      throw new DeployError(
        'release command',
        `no instance of ${service} on ${node} to run the release command as`,
      );
    progress(`${node}: release command (${command.join(' ')})`);
    const answer = (await this.hub.request(
      node,
      'release.run',
      { instance, command },
      BUILD_REQUEST_TIMEOUT_MS,
    )) as ReleaseRunAnswer;
    if (!answer.ok)
      throw new DeployError('release command', answer.error ?? 'the release command failed', {
        node,
        output: answer.output,
        hint: 'nothing was switched: fix it and deploy again',
      });
  }

  /** One node: new variants beside the old, gated on health, switched, drained, old stopped. */
  private async cutOver(
    service: string,
    definition: Service,
    release: Release,
    node: string,
    progress: Progress,
  ): Promise<void> {
    const deploy = definition.deploy!;
    const planned = (this.hub.plan?.placement ?? []).filter(
      (instance) => instance.service === service && instance.node === node,
    );
    const old = new Map<string, Variant>();
    const next = new Map<string, Variant>();
    for (const { instance: id } of planned) {
      const variants = variantsOf(service, id, this.services);
      const serving = variants.at(-1)!;
      if (serving.release === release.number) continue;
      old.set(id, serving);
      next.set(id, {
        release: release.number,
        slot: serving.release === 0 ? 'a' : otherSlot(serving.slot),
      });
    }
    if (next.size === 0) return;
    const ids = [...next.keys()];
    const newIds = ids.map((id) => slotInstanceId(id, next.get(id)!.slot));
    progress(
      `${node}: starting ${newIds.join(', ')} beside the running instance${ids.length === 1 ? '' : 's'}`,
    );
    await this.setVariants(
      service,
      Object.fromEntries(ids.map((id) => [id, [old.get(id)!, next.get(id)!]])),
    );
    const gate = await this.gate(
      node,
      newIds,
      release.number,
      parseDuration(deploy.health_timeout) ?? 60_000,
    );
    if (gate !== undefined) {
      const output = await this.instanceLog(node, service, gate.instance);
      await this.setVariants(service, Object.fromEntries(ids.map((id) => [id, [old.get(id)!]])));
      throw new DeployError(
        'health gate',
        `${gate.instance} on ${node} did not turn healthy: ${gate.reason}`,
        {
          node,
          instance: gate.instance,
          output,
          hint: 'the old instances kept serving; fix the release and deploy again',
        },
      );
    }
    progress(`${node}: ${newIds.join(', ')} healthy; switching`);
    await this.setVariants(
      service,
      Object.fromEntries(
        ids.map((id) => [id, [{ ...old.get(id)!, draining: true }, next.get(id)!]]),
      ),
    );
    await this.converged(node);
    await new Promise((resolve) => setTimeout(resolve, parseDuration(deploy.drain) ?? 2_000));
    await this.setVariants(service, Object.fromEntries(ids.map((id) => [id, [next.get(id)!]])));
    await this.converged(node);
    progress(
      `${node}: release ${release.number} serves; the old instance${ids.length === 1 ? '' : 's'} stopped`,
    );
  }

  private async setVariants(service: string, variants: Record<string, Variant[]>): Promise<void> {
    await this.save(service, withVariants(this.state(service), variants));
    await this.hub.reapply();
  }

  /** Resolves undefined once every instance is healthy on `release`; else which one failed, and why. */
  private async gate(
    node: string,
    ids: string[],
    release: number,
    timeoutMs: number,
  ): Promise<{ instance: string; reason: string } | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reported = this.hub.nodeStatuses().get(node)?.instances ?? [];
      const pending: InstanceStatus[] = [];
      for (const id of ids) {
        const status = reported.find((instance) => instance.id === id);
        if (status?.healthy && status.state === 'running' && status.release === release) continue;
        if (status && (status.state === 'failed' || status.restarts >= GATE_MAX_RESTARTS))
          return { instance: id, reason: status.reason ?? status.health_detail ?? status.state };
        pending.push(status ?? ({ id, health_detail: 'not started yet' } as InstanceStatus));
      }
      if (pending.length === 0) return undefined;
      if (Date.now() > deadline)
        return {
          instance: pending[0]!.id,
          reason: `still unhealthy after ${timeoutMs / 1000} s (${pending[0]!.health_detail})`,
        };
      await this.nextReport();
    }
  }

  /** Resolves once `node` reports having converged to the desired state last sent, and the gateways serve the latest routes. */
  private async converged(node: string): Promise<void> {
    const deadline = Date.now() + CONVERGE_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const status = this.hub.nodeStatuses().get(node);
      if (
        (status?.desired_revision ?? 0) >= this.hub.desiredRevision(node) &&
        this.hub.gatewaysServeLatest()
      )
        return;
      await this.nextReport();
    }
    this.log(
      `deploy: ${node} did not confirm the switch within ${CONVERGE_TIMEOUT_MS / 1000} s; going on`,
    );
  }

  private nextReport(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, POLL_MS);
      const off = this.hub.onReport(done);
      function done() {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  }

  private async instanceLog(node: string, service: string, instance: string): Promise<string[]> {
    try {
      const answer = (await this.hub.request(node, 'logs', { service, lines: 20 })) as {
        lines: string[];
      };
      return answer.lines
        .filter((line) => line.startsWith(`${instance} | `))
        .map((line) => line.slice(instance.length + 3));
    } catch {
      return [];
    }
  }

  private async save(service: string, state: ServiceReleases): Promise<void> {
    this.services.set(service, state);
    await this.store.saveService(service, state);
  }

  private async audit(
    type: string,
    message: string,
    service?: string,
    data?: Record<string, unknown>,
  ): Promise<void> {
    this.log(message);
    await this.bus.events
      .publish({ type, message, ...(service !== undefined && { service }), ...(data && { data }) })
      .catch((error: Error) => this.log(`the audit log did not take "${type}": ${error.message}`));
  }
}

function withVariants(
  state: ServiceReleases,
  variants: Record<string, Variant[]>,
): ServiceReleases {
  return { ...state, variants: { ...state.variants, ...variants } };
}

function describeSource(release: Release): string {
  return release.source.kind === 'dir'
    ? release.source.path
    : `${release.source.url}#${release.source.ref} (${release.source.commit.slice(0, 12)})`;
}

/** An instance left with two variants: the new one if the switch happened (the old drains), else the old. */
function settleVariants(state: ServiceReleases): { state: ServiceReleases; changed: boolean } {
  let changed = false;
  const variants: Record<string, Variant[]> = {};
  for (const [id, list] of Object.entries(state.variants)) {
    if (list.length <= 1 && !list[0]?.draining) {
      variants[id] = list;
      continue;
    }
    changed = true;
    const switched = list.some((variant) => variant.draining);
    const keep = switched ? list.filter((variant) => !variant.draining).at(-1) : list[0];
    variants[id] = keep ? [{ release: keep.release, slot: keep.slot }] : [];
  }
  return { state: { ...state, variants }, changed };
}

/** The newest `keep` releases plus any still running; the rest are pruned. */
function keepReleases(
  state: ServiceReleases,
  /** The live release and the one before it (rollback's default). */
  live: number[],
  keep: number,
): { state: ServiceReleases; pruned: Release[] } {
  const running = new Set([
    ...live,
    ...Object.values(state.variants)
      .flat()
      .map((variant) => variant.release),
  ]);
  const newest = new Set(state.releases.slice(-keep).map((release) => release.number));
  const kept = state.releases.filter(
    (release) => newest.has(release.number) || running.has(release.number),
  );
  return {
    state: { ...state, releases: kept },
    pruned: state.releases.filter((release) => !kept.includes(release)),
  };
}
