// What the hub keeps of each service's releases (bus KV `releases`, key `service.<name>`),
// and what the API answers about them. A release is immutable: a number, the sha256 of its
// bundle (content address: the same tree is the same bundle), where it came from and who
// made it. Which instances run which release is `variants`: one entry per planned instance,
// two while a deploy starts the new one beside the old.
import { z } from 'zod';

export const SHA256_HEX = /^[a-f0-9]{64}$/;

export const releaseSourceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('dir'), path: z.string() }),
  z.object({ kind: z.literal('git'), url: z.string(), ref: z.string(), commit: z.string() }),
]);
export type ReleaseSource = z.infer<typeof releaseSourceSchema>;

export const releaseSchema = z.object({
  number: z.number().int().positive(),
  sha256: z.string().regex(SHA256_HEX),
  bytes: z.number().int().positive(),
  files: z.number().int().nonnegative(),
  source: releaseSourceSchema,
  created_at: z.number().int(),
  /** Who uploaded it: `user@host` of the CLI, or `webhook:<forge>`. */
  by: z.string().max(200),
  message: z.string().max(500).optional(),
});
export type Release = z.infer<typeof releaseSchema>;

/** Which of an instance's two port slots a variant runs on (plan/release-slots.ts). */
export const slotSchema = z.enum(['a', 'b']);
export type Slot = z.infer<typeof slotSchema>;

export const variantSchema = z.object({
  /** 0: the service as it ran before its first deploy (its stack directory, planned ports). */
  release: z.number().int().nonnegative(),
  slot: slotSchema,
  /** Replaced: it finishes its in-flight requests, the gateway and redirects skip it. */
  draining: z.boolean().optional(),
});
export type Variant = z.infer<typeof variantSchema>;

export const serviceReleasesSchema = z.object({
  /** Kept releases, oldest first (deploy.keep of them, plus any still running). */
  releases: z.array(releaseSchema),
  /** Numbers releases: never reused, even after old ones are pruned. */
  last_number: z.number().int().nonnegative(),
  /** The release new instances run (absent: no deploy yet, the service runs from its stack dir). */
  current: z.number().int().positive().optional(),
  /** The release live before `current`: where `rollback` goes by default. */
  previous: z.number().int().positive().optional(),
  /** Planned instance id → what runs for it; an instance not listed runs `current` on slot a. */
  variants: z.record(z.string(), z.array(variantSchema)).default({}),
});
export type ServiceReleases = z.infer<typeof serviceReleasesSchema>;

export function emptyServiceReleases(): ServiceReleases {
  return { releases: [], last_number: 0, variants: {} };
}

export function releaseNumbered(
  state: ServiceReleases,
  number: number | undefined,
): Release | undefined {
  return state.releases.find((release) => release.number === number);
}
