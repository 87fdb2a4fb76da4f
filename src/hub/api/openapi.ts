// The OpenAPI 3.1 document of the hub API, generated from the route table: each route's
// scope, summary and zod schemas (z.toJSONSchema), the same schemas the handlers are typed
// against and the API validates with. docs/openapi.json is this document, committed; a test
// fails when the two drift (test/hub/api/openapi-drift.test.ts).
import { z } from 'zod';
import type { ApiRoute } from './api-route.ts';

type JsonSchema = Record<string, unknown>;

/** As a client sends it (a request) or the hub sends it (an answer: what the handler returned). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  const generated = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  // OpenAPI 3.1 names the dialect once for the whole document.
  delete generated.$schema;
  return generated;
}

const ERROR_RESPONSES: Record<string, string> = {
  '400': 'Invalid query or body (details: what is wrong where)',
  '401': 'Missing, unknown, revoked or expired token',
  '403': 'The token’s scope is too low for this route',
  '404': 'No such route, or nothing of that name',
  '429': 'Too many requests from this token (see the Retry-After header)',
};

const errorSchema: JsonSchema = {
  type: 'object',
  properties: {
    error: { type: 'string', description: 'What went wrong, for a person' },
    details: { description: 'More: a hint, the validation errors, a deploy failure' },
  },
  required: ['error'],
};

function parameters(route: ApiRoute): JsonSchema[] {
  const path = [...route.path.matchAll(/:([a-z_]+)/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  if (!route.query) return path;
  // As the hub reads them: a query value's type and default are after parsing.
  const query = jsonSchema(route.query, 'output') as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return [
    ...path,
    ...Object.entries(query.properties ?? {}).map(([name, schema]) => ({
      name,
      in: 'query',
      required: (query.required ?? []).includes(name) && !('default' in schema),
      schema,
    })),
  ];
}

function requestBody(route: ApiRoute): JsonSchema | undefined {
  if (route.raw)
    return {
      required: true,
      content: {
        'application/octet-stream': {
          schema: { type: 'string', contentEncoding: 'binary', maxLength: route.raw.maxBytes },
        },
      },
    };
  if (!route.body) return undefined;
  const optional = route.body.safeParse(undefined).success;
  return {
    required: !optional,
    content: { 'application/json': { schema: jsonSchema(route.body) } },
  };
}

function success(route: ApiRoute): JsonSchema {
  if (route.stream)
    return {
      description: 'Server-sent events: `event: NAME` lines, each with its `data:` as JSON',
      content: {
        'text/event-stream': {
          schema: {
            oneOf: Object.entries(route.stream).map(([event, data]) => ({
              type: 'object',
              properties: { event: { const: event }, data: jsonSchema(data) },
              required: ['event', 'data'],
            })),
          },
        },
      },
    };
  return {
    description: 'OK',
    content: {
      'application/json': { schema: route.response ? jsonSchema(route.response) : {} },
    },
  };
}

function operationId(route: ApiRoute): string {
  const words = route.path
    .replace(/^\/api\/v1\//, '')
    .split(/[/_-]/)
    .map((word) => (word.startsWith(':') ? `by-${word.slice(1)}` : word));
  return [route.method.toLowerCase(), ...words]
    .map((word, index) => (index === 0 ? word : word.charAt(0).toUpperCase() + word.slice(1)))
    .join('')
    .replace(/-(.)/g, (_match, letter: string) => letter.toUpperCase());
}

export function openApiDocument(routes: readonly ApiRoute[]): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:([a-z_]+)/g, '{$1}');
    const body = requestBody(route);
    const status = String(route.status ?? 200);
    paths[path] = {
      ...paths[path],
      [route.method.toLowerCase()]: {
        operationId: operationId(route),
        summary: route.summary,
        description: `Needs a token with the \`${route.scope}\` scope (or higher).`,
        tags: [route.path.split('/')[3]!],
        'x-scope': route.scope,
        security: [{ bearer: [] }],
        parameters: parameters(route),
        ...(body === undefined ? {} : { requestBody: body }),
        responses: {
          [status]: success(route),
          ...Object.fromEntries(
            Object.keys(ERROR_RESPONSES).map((code) => [
              code,
              { $ref: `#/components/responses/Error${code}` },
            ]),
          ),
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Flotilla hub API',
      version: '1',
      description:
        'The hub’s HTTP API. Every call carries `Authorization: Bearer <token>`: a token from `flotilla tokens create`, whose scope (read ⊂ operate ⊂ admin) decides what it may call. See docs/api.md.',
    },
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'flt_<id>_<secret>, from `flotilla tokens create NAME --scope SCOPE`',
        },
      },
      schemas: { Error: errorSchema },
      responses: Object.fromEntries(
        Object.entries(ERROR_RESPONSES).map(([code, description]) => [
          `Error${code}`,
          {
            description,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
          },
        ]),
      ),
    },
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => (a < b ? -1 : 1))),
  };
}
