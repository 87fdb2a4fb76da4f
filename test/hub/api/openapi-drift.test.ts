// docs/openapi.json is the document the route table generates: a route, scope or schema that
// changed without it being regenerated fails here, with the command that regenerates it.
import path from 'node:path';
import { format, resolveConfig } from 'prettier';
import { describe, expect, it } from 'vitest';
import { Daemon } from '../../../src/daemon/daemon.ts';
import { openApiDocument } from '../../../src/hub/api/openapi.ts';

const COMMITTED = path.resolve('docs/openapi.json');
const REGENERATE = 'npx vitest run test/hub/api/openapi-drift.test.ts --update';

describe('the OpenAPI document', () => {
  const document = openApiDocument(Daemon.documentedApiRoutes());

  it('is docs/openapi.json as committed', async () => {
    // Formatted as the repository's prettier formats it, so `npm run lint` passes on it too.
    const generated = await format(JSON.stringify(document), {
      ...(await resolveConfig(COMMITTED)),
      filepath: COMMITTED,
    });
    await expect(
      generated,
      `docs/openapi.json differs from the route table: regenerate it with \`${REGENERATE}\` and commit it`,
    ).toMatchFileSnapshot(COMMITTED);
  });

  it('describes every route with its scope, and none twice', () => {
    const routes = Daemon.documentedApiRoutes();
    const operations = Object.values(document.paths as Record<string, object>).flatMap((methods) =>
      Object.values(methods as Record<string, { 'x-scope': string; operationId: string }>),
    );
    expect(operations).toHaveLength(routes.length);
    expect(new Set(operations.map((operation) => operation.operationId)).size).toBe(routes.length);
    expect(
      operations.every((operation) => ['read', 'operate', 'admin'].includes(operation['x-scope'])),
    ).toBe(true);
  });
});
