// Pull, push and import answer 200 at once and then stream progress, one JSON object per
// line; a failure after that point arrives as a line with `error`/`errorDetail`, not as a
// status code. This reads such a stream to its end, reports progress, and turns an error
// line into a thrown, typed error.
import type http from 'node:http';
import { z } from 'zod';
import type { EngineError } from './errors.ts';
import { jsonLines } from './json-stream.ts';
import { parseAnswer } from './transport.ts';

/** One progress line: a layer's status ("Downloading", "Pull complete", …) and bytes. */
export interface TransferProgress {
  status: string;
  /** The layer (or tag) the line is about. */
  id: string | undefined;
  current: number | undefined;
  total: number | undefined;
}

export type ProgressListener = (progress: TransferProgress) => void;

const lineSchema = z.object({
  status: z.string().optional(),
  id: z.string().optional(),
  progressDetail: z
    .object({ current: z.number().optional(), total: z.number().optional() })
    .optional(),
  error: z.string().optional(),
  errorDetail: z.object({ message: z.string().optional() }).optional(),
  // A push's last line: {"aux": {"Tag", "Digest", "Size"}}.
  aux: z.object({ Digest: z.string().optional() }).loose().optional(),
});

export interface TransferOutcome {
  /** From "Digest: sha256:…" (pull) or the aux line (push). */
  digest: string | undefined;
  /** The last status line, e.g. "sha256:…" after an import. */
  lastStatus: string | undefined;
}

const DIGEST_STATUS = /^Digest: (sha256:[a-f0-9]{64})$/;

/** Reads a progress stream to its end; an error line becomes `failure(message)`. */
export async function readTransfer(
  response: http.IncomingMessage,
  options: {
    what: string;
    signal?: AbortSignal;
    onProgress?: ProgressListener;
    failure: (message: string) => EngineError;
  },
): Promise<TransferOutcome> {
  const outcome: TransferOutcome = { digest: undefined, lastStatus: undefined };
  for await (const value of jsonLines(response, options)) {
    const line = parseAnswer(lineSchema, value, options.what);
    const error = line.errorDetail?.message ?? line.error;
    if (error !== undefined) throw options.failure(error);
    if (line.aux?.Digest !== undefined) outcome.digest = line.aux.Digest;
    if (line.status === undefined) continue;
    outcome.lastStatus = line.status;
    const digest = DIGEST_STATUS.exec(line.status)?.[1];
    if (digest !== undefined) outcome.digest = digest;
    options.onProgress?.({
      status: line.status,
      id: line.id,
      current: line.progressDetail?.current,
      total: line.progressDetail?.total,
    });
  }
  return outcome;
}
