// What runs for each planned instance of a deployed service. Before its first deploy a
// process service runs from its stack directory on its planned ports, as `api-1`. Once
// deployed, each planned instance runs one variant (two while a deploy starts the new
// release beside the old): a release on a slot, as `api-1a` or `api-1b`, on that slot's
// ports (release-slots.ts). Other services keep reaching it on the planned port, which the
// node redirects to the variant that serves (`redirects`); the gateway dials the variants
// directly. A draining variant finishes what it has but gets nothing new.
import path from 'node:path';
import {
  releaseNumbered,
  type Release,
  type ServiceReleases,
  type Variant,
} from '../release/release-record.ts';
import type { Instance } from './placement.ts';
import { slotInstanceId, slotPorts } from './release-slots.ts';

/** Each deployed service's releases and variants, by service name (absent: never deployed). */
export type StackReleases = ReadonlyMap<string, ServiceReleases>;

export interface PlacedVariant {
  /** With the variant's id and ports. */
  instance: Instance;
  /** Absent: the service was never deployed, it runs from its stack directory. */
  release?: Release;
  draining: boolean;
}

/** Where a node keeps a release's unpacked bundle: the instance's working directory. */
export function releaseDir(stateDir: string, service: string, sha256: string): string {
  return path.join(stateDir, 'releases', service, sha256);
}

/** What runs for planned instance `id` of `service`, in the order the variants started. */
export function variantsOf(
  service: string,
  id: string,
  releases: StackReleases | undefined,
): Variant[] {
  const state = releases?.get(service);
  const listed = state?.variants[id];
  if (listed && listed.length > 0) return listed;
  return [{ release: state?.current ?? 0, slot: 'a' }];
}

export function placedVariants(
  instance: Instance,
  releases: StackReleases | undefined,
): PlacedVariant[] {
  const state = releases?.get(instance.service);
  return variantsOf(instance.service, instance.id, releases).map((variant) => {
    const draining = variant.draining === true;
    const release = state && releaseNumbered(state, variant.release);
    if (!release) return { instance, draining };
    return {
      instance: {
        ...instance,
        id: slotInstanceId(instance.id, variant.slot),
        ports: slotPorts(instance.ports, variant.slot),
      },
      release,
      draining,
    };
  });
}

/** Every instance the gateway may send requests to: each serving variant. */
export function routedInstances(
  instances: readonly Instance[],
  releases: StackReleases | undefined,
): Instance[] {
  return instances.flatMap((instance) =>
    placedVariants(instance, releases)
      .filter((placed) => !placed.draining)
      .map((placed) => placed.instance),
  );
}

export interface PortRedirect {
  /** The planned port other services connect to. */
  port: number;
  /** Where the serving variant listens. */
  to: number;
}

/** A node's redirects: each deployed instance's planned ports to its serving variant's. */
export function portRedirects(
  instances: readonly Instance[],
  releases: StackReleases | undefined,
): PortRedirect[] {
  const redirects: PortRedirect[] = [];
  for (const instance of instances) {
    // While both run undrained, the older one keeps the planned port until the switch.
    const target = placedVariants(instance, releases).find((placed) => !placed.draining);
    // The service as planned listens on the planned port itself.
    if (target?.release === undefined) continue;
    for (const [name, port] of Object.entries(instance.ports))
      redirects.push({ port, to: target.instance.ports[name]! });
  }
  return redirects.sort((a, b) => a.port - b.port);
}
