// The API routes of `flotilla tokens`: create (the token is in this one answer, never again),
// list (never the tokens), revoke. Admin only: a token can make tokens as strong as itself.
import { z } from 'zod';
import { ApiError, defineRoute, SCOPES, type ApiRoute } from './api-route.ts';
import {
  tokenInfoSchema,
  tokenNameSchema,
  TokenNameTaken,
  type ApiTokenStore,
} from './api-tokens.ts';

export const createTokenBodySchema = z.strictObject({
  name: tokenNameSchema,
  scope: z.enum(SCOPES),
  /** From the hub's clock, so a CLI with a wrong clock still gets the lifetime it asked for. */
  expires_in_ms: z.number().int().positive().optional(),
});

export function tokenRoutes(tokens: () => ApiTokenStore, now: () => number = Date.now): ApiRoute[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/api/v1/tokens',
      scope: 'admin',
      summary: 'Create an API token (the answer is the only time it is shown)',
      body: createTokenBodySchema,
      response: z.object({ name: z.string(), token: z.string() }),
      handle: async ({ body }) => {
        const expiresAt = body.expires_in_ms === undefined ? undefined : now() + body.expires_in_ms;
        try {
          const { token } = await tokens().create(body.name, body.scope, expiresAt);
          return { json: { name: body.name, token } };
        } catch (error) {
          if (error instanceof TokenNameTaken)
            throw new ApiError(409, error.message, { hint: error.hint });
          throw error;
        }
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/v1/tokens',
      scope: 'admin',
      summary: 'List API tokens: name, scope, created, expires, last used (never the token)',
      response: z.object({ tokens: z.array(tokenInfoSchema) }),
      handle: async () => ({ json: { tokens: tokens().list() } }),
    }),
    defineRoute({
      method: 'DELETE',
      path: '/api/v1/tokens/:name',
      scope: 'admin',
      summary: 'Revoke an API token: it is refused from the next call on',
      response: z.object({ revoked: z.string() }),
      handle: async ({ params }) => {
        const name = params.name!;
        if (!(await tokens().revoke(name)))
          throw new ApiError(404, `no API token named ${name}`, {
            hint: 'flotilla tokens list shows their names',
          });
        return { json: { revoked: name } };
      },
    }),
  ];
}
