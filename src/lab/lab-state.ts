// The shape of a lab's state file: everything `up` creates, recorded before it is created,
// so `down` (another process, maybe after a crash) can remove it. Read back through zod: the
// file names PIDs to signal and dirs to delete, so nothing in it is trusted unchecked.
import { z } from 'zod';
import { dockerdRecordSchema } from './lab-dockerd.ts';

export const labNodeSchema = z.object({
  name: z.string(),
  namespace: z.string(),
  address: z.string(),
  /** The veth end inside the internet namespace, enslaved to the bridge. */
  hostLink: z.string(),
  /** The veth end inside the node's namespace, carrying its public address. */
  nodeLink: z.string(),
});
export type LabNode = z.infer<typeof labNodeSchema>;

/** A node's Docker Engine: `down` stops it before the namespace it runs in goes. */
export const labDockerdSchema = dockerdRecordSchema.extend({
  kind: z.literal('dockerd'),
  node: z.string(),
});
export type LabDockerd = z.infer<typeof labDockerdSchema>;

/** One thing `up` creates, in creation order; `down` removes them in reverse. */
export const labResourceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('netns'), name: z.string() }),
  z.object({ kind: z.literal('link'), name: z.string(), namespace: z.string() }),
  labDockerdSchema,
]);
export type LabResource = z.infer<typeof labResourceSchema>;

export const labStateSchema = z.object({
  version: z.literal(1),
  name: z.string(),
  short: z.string(),
  createdAt: z.string(),
  internetNamespace: z.string(),
  bridge: z.string(),
  internetAddress: z.string(),
  nodes: z.array(labNodeSchema),
  resources: z.array(labResourceSchema),
});
export type LabState = z.infer<typeof labStateSchema>;
