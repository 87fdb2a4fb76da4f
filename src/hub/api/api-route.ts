// The shape of one route of the hub's HTTP API (`/api/v1/...`): where it is, which scope it
// needs, what it takes and answers (zod schemas, which the handler is typed against and the
// OpenAPI document is generated from), and what it does. Listeners authenticate; ApiHandler
// does everything after that.
import type http from 'node:http';
import type { z } from 'zod';

/** Ordered: each scope holds every one before it (admin ⊇ operate ⊇ read). */
export const SCOPES = ['read', 'operate', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export function scopeAllows(held: Scope, needed: Scope): boolean {
  return SCOPES.indexOf(held) >= SCOPES.indexOf(needed);
}

/** Who calls: the CLI on the hub's machine (local), an API token, or a dashboard session. */
export interface Principal {
  kind: 'local' | 'token' | 'session';
  name: string;
  scope: Scope;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface ApiRequest<Body = unknown, Query = unknown> {
  params: Record<string, string>;
  query: URLSearchParams;
  /** The query parsed by the route's `query` schema (undefined when it has none). */
  queryValues: Query;
  /** Parsed by the route's `body` schema; a Buffer for a `raw` route. */
  body: Body;
  headers: http.IncomingHttpHeaders;
  /** Aborted when the client goes away (for streams). */
  signal: AbortSignal;
  principal: Principal;
}

export type EventSender = (event: string, data: unknown) => void;

/** A JSON answer, or a stream of server-sent events written through `send`. */
export type ApiResult<Json = unknown> =
  | { json: Json; status?: number }
  | { events: (send: EventSender, signal: AbortSignal) => Promise<void> };

export type ApiMethod = 'GET' | 'POST' | 'DELETE' | 'PUT';

/** What a route does apart from who may call it: all the public join listener's route has. */
export interface RouteHandling {
  method: ApiMethod;
  /** e.g. /api/v1/services/:name/restart */
  path: string;
  body?: z.ZodType;
  /** The body is bytes (a Buffer, at most `maxBytes`), not JSON: an upload. */
  raw?: { maxBytes: number };
  handle(request: ApiRequest): Promise<ApiResult>;
}

export interface ApiRoute extends RouteHandling {
  scope: Scope;
  /** One line, for the OpenAPI document and docs/api.md. */
  summary: string;
  query?: z.ZodType;
  /** The JSON answer. */
  response?: z.ZodType;
  /** The status of a success, when it is not 200 (202: accepted, still going on). */
  status?: 202;
  /** A server-sent event stream instead: each event's name and the schema of its data. */
  stream?: Record<string, z.ZodType>;
}

type Parsed<S> = S extends z.ZodType ? z.output<S> : unknown;
type Answer<S> = S extends z.ZodType ? z.input<S> : unknown;

/** A route whose handler is typed by its schemas: its body and query as parsed, its answer as the response schema takes it. */
export interface RouteDefinition<
  B extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  R extends z.ZodType | undefined,
> extends Omit<ApiRoute, 'body' | 'query' | 'response' | 'handle'> {
  body?: B;
  query?: Q;
  response?: R;
  handle(request: ApiRequest<Parsed<B>, Parsed<Q>>): Promise<ApiResult<Answer<R>>>;
}

export function defineRoute<
  B extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  R extends z.ZodType | undefined = undefined,
>(definition: RouteDefinition<B, Q, R>): ApiRoute {
  // Sound: ApiHandler hands `handle` only what `body` and `query` parsed.
  return definition as unknown as ApiRoute;
}
