// The API routes of secrets: their names, versions and which services use each (never a
// value), and setting one (write-only: the value goes in, is stored sealed, and is never
// answered, logged or audited; the running stack gets it as `flotilla secrets set` gives it).
import { z } from 'zod';
import type { Plan } from '../../plan/plan.ts';
import { SecretError, type SecretStore } from '../../secrets/store.ts';
import { ApiError, defineRoute, type ApiRoute } from './api-route.ts';

/** 64 KiB: a certificate or a key fits; the API's body cap (1 MiB) is for stack files. */
const MAX_SECRET_BYTES = 64 * 1024;

export const setSecretBodySchema = z.strictObject({
  value: z.string().min(1).max(MAX_SECRET_BYTES),
});

/** Service → the secrets its instances are given, from the plan. */
function usersOf(plan: Plan | undefined): Map<string, Set<string>> {
  const users = new Map<string, Set<string>>();
  for (const node of Object.values(plan?.desired ?? {}))
    for (const instance of node.instances)
      for (const secret of instance.secrets)
        users.set(secret, (users.get(secret) ?? new Set()).add(instance.service));
  return users;
}

export function secretRoutes(
  secrets: () => SecretStore,
  plan: () => Plan | undefined,
  /** Delivers the store's current values to the running stack (an apply of the same stack). */
  redeliver: () => Promise<void>,
): ApiRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/v1/secrets',
      scope: 'read',
      summary: 'Secret names, versions, when each changed and which services use it (never values)',
      response: z.object({
        secrets: z.array(
          z.object({
            name: z.string(),
            current: z.number().int(),
            versions: z.number().int(),
            updated_at: z.number(),
            services: z.array(z.string()),
          }),
        ),
      }),
      handle: async () => {
        const users = usersOf(plan());
        const list = await secrets().list();
        return {
          json: {
            secrets: list.map((secret) => ({
              ...secret,
              services: [...(users.get(secret.name) ?? [])].sort(),
            })),
          },
        };
      },
    }),
    defineRoute({
      method: 'PUT',
      path: '/api/v1/secrets/:name',
      scope: 'admin',
      summary:
        'Set a secret (write-only: the value is never answered); the services using it restart',
      body: setSecretBodySchema,
      response: z.object({ name: z.string(), version: z.number().int() }),
      handle: async ({ params, body }) => {
        const name = params.name!;
        let version: number;
        try {
          version = await secrets().set(name, body.value);
        } catch (error) {
          if (error instanceof SecretError) throw new ApiError(400, error.message);
          throw error;
        }
        await redeliver();
        return { json: { name, version } };
      },
    }),
  ];
}
