// An event: what a node sends the hub on its event subject, and what the hub files in the
// audit log. Validated at both ends; whom it is about comes from the subject.
import { z } from 'zod';

export const busEventSchema = z.object({
  /** Dotted lowercase, e.g. `health.changed`, `deploy.finished`. */
  type: z
    .string()
    .regex(/^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/)
    .max(100),
  /** ms since epoch */
  at: z.number().int().nonnegative(),
  node: z.string().max(100).optional(),
  service: z.string().max(200).optional(),
  instance: z.string().max(200).optional(),
  message: z.string().max(4_000),
  data: z.record(z.string(), z.unknown()).optional(),
});

export type BusEvent = z.infer<typeof busEventSchema>;
