// What a forge's push payload says, once its signature has been checked: which ref moved
// and to which commit. GitHub and Gitea name the new commit `after`; GitLab names it
// `checkout_sha` (null when the branch was deleted). Only the fields we use are read, with
// zod, so a payload that lacks them is refused with a message instead of half-understood.
import { z } from 'zod';
import type { Forge } from './signatures.ts';

/** The payload is not a push payload we can read. */
export class PushPayloadError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'PushPayloadError';
  }
}

export type PushEvent =
  | { kind: 'branch'; branch: string; commit: string }
  | { kind: 'deleted'; branch: string }
  | { kind: 'tag'; tag: string }
  | { kind: 'other'; ref: string };

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const ZERO_SHA = /^0+$/;
const sha = z.string().regex(SHA, 'a commit sha (40 or 64 lower-case hex digits)');

/** GitHub's and Gitea's (Gitea copies GitHub's payload). */
const githubPush = z
  .object({ ref: z.string().min(1).max(1024), after: sha })
  .transform(({ ref, after }) => ({ ref, commit: after }));
const gitlabPush = z.object({
  object_kind: z.literal('push'),
  ref: z.string().min(1).max(1024),
  after: sha,
  checkout_sha: sha.nullish(),
});

/** Each forge's payload, reduced to the ref and the commit a deploy would check out. */
const PAYLOAD_SCHEMA: Record<Forge, z.ZodType<{ ref: string; commit: string | null }>> = {
  github: githubPush,
  gitea: githubPush,
  gitlab: gitlabPush.transform(({ ref, after, checkout_sha }) => ({
    ref,
    commit: ZERO_SHA.test(after) ? null : (checkout_sha ?? null),
  })),
};

/** What `rawBody` (already verified) says was pushed. */
export function readPushEvent(forge: Forge, rawBody: Buffer): PushEvent {
  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw new PushPayloadError(
      'the payload is not JSON',
      "set the webhook's content type to application/json",
    );
  }
  const parsed = PAYLOAD_SCHEMA[forge].safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PushPayloadError(
      `the payload is not a ${forge} push event: ${issue.path.join('.') || 'payload'}: ${issue.message}`,
      `check that the hook is a ${forge} webhook sending push events`,
    );
  }
  const { ref, commit } = parsed.data;
  if (ref.startsWith('refs/heads/')) {
    const branch = ref.slice('refs/heads/'.length);
    // A deleted branch points nowhere: GitHub and Gitea say so with an all-zero `after`.
    if (commit === null || ZERO_SHA.test(commit)) return { kind: 'deleted', branch };
    return { kind: 'branch', branch, commit };
  }
  if (ref.startsWith('refs/tags/')) return { kind: 'tag', tag: ref.slice('refs/tags/'.length) };
  return { kind: 'other', ref };
}
