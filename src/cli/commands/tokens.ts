// `flotilla tokens create|list|revoke`: the hub API's scoped tokens, made and revoked by the
// hub (over its loopback API, with the state dir's own token), so the file of hashes has one
// writer. A new token is printed once, on stdout alone, for `TOKEN=$(flotilla tokens create …)`.
import { SCOPES, type Scope } from '../../hub/api/api-route.ts';
import { tokenNameSchema, type TokenInfo } from '../../hub/api/api-tokens.ts';
import { parseDuration } from '../../spec/formats.ts';
import { HubRequestFailed } from '../hub-client.ts';
import { connectRunningStack } from '../running-stack.ts';
import { table, toJson, writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';
import { UsageError } from '../usage.ts';

const USAGE = [
  `flotilla tokens create NAME --scope ${SCOPES.join('|')} [--expires 90d] [-f flotilla.yml]`,
  '       flotilla tokens list [--json] [-f flotilla.yml]',
  '       flotilla tokens revoke NAME [-f flotilla.yml]',
].join('\n');

type Verb = 'create' | 'list' | 'revoke';

/** What each option is for: given to another verb, it is refused rather than ignored. */
const OPTION_VERBS: Record<string, Verb> = { scope: 'create', expires: 'create', json: 'list' };

function isScope(text: string): text is Scope {
  return (SCOPES as readonly string[]).includes(text);
}

function when(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

function createRequest(name: string, values: Record<string, unknown>) {
  if (!tokenNameSchema.safeParse(name).success)
    throw new UsageError(
      `bad token name "${name}"`,
      'a token name is 1-63 of a-z 0-9 _ . - (starting with a letter or digit), e.g. ci-deploy',
    );
  const scope = values.scope as string | undefined;
  if (scope === undefined || !isScope(scope))
    throw new UsageError(
      scope === undefined ? 'missing --scope' : `unknown scope "${scope}"`,
      `--scope ${SCOPES.join(', ')}: read sees, operate also restarts, backs up and deploys, admin can do everything`,
    );
  const expires = values.expires as string | undefined;
  const lifetime = expires === undefined ? undefined : parseDuration(expires);
  if (expires !== undefined && (lifetime === undefined || lifetime <= 0))
    throw new UsageError(`--expires must be a duration such as 90d or 12h, not "${expires}"`);
  return { name, scope, ...(lifetime === undefined ? {} : { expires_in_ms: lifetime }) };
}

export const tokensCommand: CommandSpec = {
  usage: USAGE,
  options: {
    file: { type: 'string', short: 'f' },
    scope: { type: 'string' },
    expires: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { verbs: { create: ['NAME'], list: [], revoke: ['NAME'] } },
  async run({ values, positionals }, output: Output) {
    // main checked the verb and its words against `positionals` above.
    const [verb, name] = positionals as [Verb, string?];
    for (const [option, owner] of Object.entries(OPTION_VERBS))
      if (values[option] !== undefined && owner !== verb)
        throw new UsageError(`--${option} goes with \`tokens ${owner}\`, not \`tokens ${verb}\``);
    const request = verb === 'create' ? createRequest(name!, values) : undefined;
    const running = await connectRunningStack(values.file as string | undefined, output);
    if (!running) return 1;
    try {
      if (request) {
        const { token } = await running.client.post<{ token: string }>('/api/v1/tokens', request);
        writeLine(output.out, token);
        writeLine(
          output.err,
          `token ${request.name} (${request.scope}) created: it is shown this once; keep it in a secret store`,
        );
        return 0;
      }
      if (verb === 'revoke') {
        await running.client.delete(`/api/v1/tokens/${encodeURIComponent(name!)}`);
        writeLine(output.out, `revoked token ${name}: it is refused from now on`);
        return 0;
      }
      const { tokens } = await running.client.get<{ tokens: TokenInfo[] }>('/api/v1/tokens');
      if (values.json) writeLine(output.out, toJson(tokens));
      else if (tokens.length === 0)
        writeLine(output.out, 'no API tokens yet: flotilla tokens create NAME --scope read');
      else
        writeLine(
          output.out,
          table(
            [
              ['NAME', 'SCOPE', 'CREATED', 'EXPIRES', 'LAST USED'],
              ...tokens.map((token) => [
                token.name,
                token.scope,
                when(token.created_at),
                when(token.expires_at),
                when(token.last_used_at),
              ]),
            ],
            output.color.bold,
          ),
        );
      return 0;
    } catch (error) {
      if (!(error instanceof HubRequestFailed)) throw error;
      writeLine(output.err, `flotilla tokens ${verb}: ${error.message}`);
      const hint = (error.details as { hint?: unknown } | undefined)?.hint;
      if (typeof hint === 'string') writeLine(output.err, `hint: ${hint}`);
      return 1;
    }
  },
};
