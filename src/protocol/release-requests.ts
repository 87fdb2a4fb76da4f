// The hub's requests about releases and a node's answers (agent/node-releases.ts carries them
// out): a bundle in chunks, then "prepare" (unpack and build it), and the release command a
// deploy runs once. Requests arrive signed; the bodies are checked here all the same.
import { z } from 'zod';
import { desiredInstanceSchema } from '../plan/desired.ts';
import { MAX_BUNDLE_BYTES } from '../release/bundle.ts';
import { SHA256_HEX } from '../release/release-record.ts';

/** A chunk of a bundle: small enough for one signed bus message with room to spare. */
export const RELEASE_CHUNK_BYTES = 512 * 1024;

const sha256 = z.string().regex(SHA256_HEX);
const name = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/);

export const releaseChunkSchema = z.object({
  sha256,
  offset: z.number().int().nonnegative().max(MAX_BUNDLE_BYTES),
  data: z.string().max(Math.ceil(RELEASE_CHUNK_BYTES / 3) * 4),
});

export const releasePrepareSchema = z.object({
  service: name,
  sha256,
  bytes: z.number().int().positive().max(MAX_BUNDLE_BYTES),
  build: z.array(z.string()).min(1).optional(),
  user: z.string().optional(),
  /** This service's releases to keep on the node: the others' directories go. */
  keep: z.array(sha256),
});
export type ReleasePrepare = z.infer<typeof releasePrepareSchema>;

/** `ready`; or the bytes it has so far (`need`); or why it could not (a failed build). */
export type PrepareAnswer =
  | { ready: true }
  | { ready: false; have: number }
  | { ready: false; error: string; output: string[] };

export const releaseRunSchema = z.object({
  /** The instance of the new release the command runs as: its env, secrets, user, directory. */
  instance: desiredInstanceSchema,
  command: z.array(z.string()).min(1),
});

export type ReleaseRunAnswer = { ok: boolean; error?: string; output: string[] };
