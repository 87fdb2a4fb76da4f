// docs/reference.md is generated from the stack-file schema: this fails when someone changes
// the schema (a key, a default, a description) without regenerating the reference.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  REFERENCE_PATH,
  REGENERATE_COMMAND,
  renderReference,
} from '../../scripts/docs-reference.ts';

describe('docs/reference.md', () => {
  it('is what the schema generates today', async () => {
    const committed = await readFile(REFERENCE_PATH, 'utf8');
    expect(
      committed === (await renderReference()),
      `docs/reference.md is stale: run \`${REGENERATE_COMMAND}\` and commit the result`,
    ).toBe(true);
  });

  it('lists every top-level key of the stack file, in order, each with a section when it is an object', async () => {
    const reference = await renderReference();
    for (const key of ['name', 'mesh', 'nodes', 'services', 'backups', 'alerts', 'dashboard'])
      expect(reference).toContain(`| \`${key}\``);
    expect(reference).toContain('<a id="services-name-health-http"></a>');
    expect(reference).toContain('[map of object](#services-name)');
    // Deterministic: two renderings are identical.
    expect(await renderReference()).toBe(reference);
  });
});
