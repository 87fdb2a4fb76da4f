// The shape of a PM2 ecosystem file, checked at the boundary: `{ apps: [...] }` (or the
// list alone), each app with the options the import reads typed. Unknown options pass
// through, so the import can list each one it does not translate.
import { z } from 'zod';

/** What the runner writes for a value the file read from an environment it did not get. */
const UNDEFINED = z.strictObject({ $undefined: z.literal(true) });
/** A function value (a PM2 option never is one). */
const FUNCTION = z.strictObject({ $function: z.literal(true) });

const stringOrList = z.union([z.string(), z.array(z.string())]);
const envValueSchema = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.null(),
  UNDEFINED,
  FUNCTION,
]);
const envSchema = z.record(z.string(), envValueSchema);

export const appSchema = z.looseObject({
  name: z.string().min(1).optional(),
  script: z.string().min(1, { message: 'an app needs `script`, the program PM2 starts' }),
  args: stringOrList.optional(),
  interpreter: z.string().min(1).optional(),
  interpreter_args: stringOrList.optional(),
  node_args: stringOrList.optional(),
  cwd: z.string().min(1).optional(),
  env: envSchema.optional(),
  env_file: z.string().min(1).optional(),
  instances: z.union([z.number(), z.string()]).optional(),
  exec_mode: z.string().optional(),
  autorestart: z.boolean().optional(),
  stop_exit_codes: z.union([z.number(), z.array(z.number())]).optional(),
  kill_timeout: z.number().min(0).optional(),
  uid: z.union([z.string(), z.number()]).optional(),
  user: z.string().optional(),
});

export type App = z.output<typeof appSchema>;
export type EnvValue = z.output<typeof envValueSchema>;

export const ecosystemSchema = z.union([
  z.looseObject({ apps: z.array(z.unknown()) }),
  z.array(z.unknown()),
]);
